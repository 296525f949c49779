#!/usr/bin/env bash
# The house's rules that the compiler does not enforce: the pure core links
# no kernel, async or script crates (so `ferret check`, the fuzz targets and
# the checker's tests build without clang); each layer depends only on the
# layers below it; no source file grows past 400 lines before its tests.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0

deps() { cargo tree --offline -p "$1" -e normal --prefix none 2>/dev/null | awk '{print $1}' | sort -u; }

forbidden_in_core='^(aya|aya-obj|tokio|rhai|btf-rs|prometheus-client|tiny_http|ferret-kernel|ferret-session|ferret-script|ferret-repl|ferret-agent)$'
if bad=$(deps ferret-core | grep -E "$forbidden_in_core"); then
  echo "check-layers: ferret-core must stay pure, but depends on: $bad" >&2
  fail=1
fi
# Each layer, and the crates it must not reach (those above it).
while read -r crate above; do
  for a in $above; do
    if deps "$crate" | grep -qx "$a"; then
      echo "check-layers: $crate depends on $a, a layer above it" >&2
      fail=1
    fi
  done
done <<'LAYERS'
ferret-grammar ferret-core ferret-kernel ferret-session ferret-script ferret-repl ferret-agent
ferret-core ferret-kernel ferret-session ferret-script ferret-repl ferret-lab ferret-agent
ferret-kernel ferret-session ferret-script ferret-repl ferret-agent
ferret-session ferret-script ferret-repl ferret-agent
ferret-script ferret-repl ferret-agent
ferret-repl ferret-agent
ferret-agent ferret-script ferret-repl ferret-lab
LAYERS

long=$(git ls-files '*.rs' '*.c' '*.h' | grep -vE '(^|/)(tests|benches|fuzz)/' | while read -r f; do
  n=$(awk '/^#\[cfg\(test\)\]/{exit} {n++} END{print n+0}' "$f")
  [ "$n" -gt 400 ] && echo "$f ($n lines)"
done || true)
if [ -n "$long" ]; then
  echo "check-layers: files over 400 lines before their tests (split them):" >&2
  echo "$long" >&2
  fail=1
fi
[ "$fail" = 0 ] && echo "check-layers: layers run one way; ferret-core is pure; no file over 400 lines"
exit "$fail"
