#!/usr/bin/env bash
# Checks the deployment files under deploy/: the Kubernetes manifests
# against the Kubernetes API schemas (kubernetes-validate, from PyPI; its
# schemas ship inside the package, so it validates offline once
# installed), strictly (unknown fields are errors); the systemd unit with
# `systemd-analyze verify`; and the rules both ship with `ferret check`.
# Run by tools/test.sh after the build (it needs target/debug/ferret).
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
ferret=target/debug/ferret
[ -x "$ferret" ] || cargo build --quiet --bin ferret

validator=$(command -v kubernetes-validate || true)
venv=target/deploy-venv
if [ -z "$validator" ]; then
  if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    python3 -m venv "$venv" && "$venv/bin/pip" install --quiet kubernetes-validate || true
  fi
  [ -x "$venv/bin/kubernetes-validate" ] && validator="$venv/bin/kubernetes-validate"
fi
python=python3
[ -x "$venv/bin/python" ] && python="$venv/bin/python"

if [ -n "$validator" ]; then
  for f in deploy/kubernetes/*.yaml; do
    "$validator" --strict --quiet "$f" || { echo "check-deploy: $f does not validate" >&2; fail=1; }
  done
  # The ConfigMap's rules must be rules ferret accepts.
  rules=$(mktemp)
  "$python" - deploy/kubernetes/ferret.yaml > "$rules" <<'PY'
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc.get("kind") == "ConfigMap":
        sys.stdout.write(doc["data"]["rules.ferret"])
PY
  "$ferret" check "$rules" >/dev/null || { echo "check-deploy: the ConfigMap's rules do not check" >&2; fail=1; }
  rm -f "$rules"
elif [ -n "${CI:-}" ]; then
  echo "check-deploy: kubernetes-validate could not be installed (pip install kubernetes-validate)" >&2
  fail=1
else
  echo "check-deploy: skipped the Kubernetes schemas: kubernetes-validate could not be installed" >&2
fi

if command -v systemd-analyze >/dev/null 2>&1; then
  # verify wants ExecStart to exist: point it at the binary just built.
  unit=$(mktemp -d)/ferret.service
  sed "s|/usr/local/bin/ferret|$PWD/$ferret|" deploy/systemd/ferret.service > "$unit"
  systemd-analyze verify "$unit" || { echo "check-deploy: the systemd unit does not verify" >&2; fail=1; }
  rm -rf "$(dirname "$unit")"
else
  echo "check-deploy: skipped the systemd unit: no systemd-analyze" >&2
fi
"$ferret" check deploy/systemd/rules.ferret >/dev/null || { echo "check-deploy: deploy/systemd/rules.ferret does not check" >&2; fail=1; }

[ "$fail" = 0 ] && echo "check-deploy: Kubernetes manifests, systemd unit and shipped rules are valid"
exit "$fail"
