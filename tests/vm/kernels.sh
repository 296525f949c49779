#!/usr/bin/env bash
# Fetches Debian kernels for the VM tests: `apt-get download` of the image
# package, extracted (never installed) under $FERRET_VM_CACHE/<name>/.
# Usage: tests/vm/kernels.sh NAME...   (names: 5.10 6.1 6.12 sid)
# Prints one line per kernel: NAME DIR (DIR holds vmlinuz and lib/modules).
#
# 6.1 and 6.12 come from the system's own bookworm sources. 5.10 (bullseye)
# and sid use a private sources list passed with -o Dir::Etc::sourcelist, so
# the system's apt configuration is never touched.
set -euo pipefail
cache=${FERRET_VM_CACHE:-/var/cache/ferret-vm}
mkdir -p "$cache"

# The machine's own Debian mirrors, read from its apt sources (deb822
# `.sources` stanzas and one-line `deb` entries): "URI SUITE" per line.
# Nothing here names a mirror.
apt_sources() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = "" } /(^|\n)Types:[^\n]*deb/ {
        uri = ""; suites = ""; n = split($0, l, "\n")
        for (i = 1; i <= n; i++) {
          if (l[i] ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", l[i]); split(l[i], u, " "); uri = u[1] }
          if (l[i] ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", l[i]); suites = l[i] }
        }
        m = split(suites, s, " "); for (j = 1; j <= m; j++) if (uri != "") print uri, s[j]
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } print $i, $(i + 1) }' "$f"
  done
}

# The URI that serves the main archive (a suite with no `-security`) or the
# security archive (`-security`).
mirror() {
  local want=$1 uri
  uri=$(apt_sources | awk -v want="$want" '
    want == "security" && $2 ~ /-security$/ { print $1; exit }
    want == "main" && $2 !~ /-(security|updates|backports)$/ && $1 ~ /debian/ { print $1; exit }')
  if [ -z "$uri" ]; then
    echo "kernels.sh: no Debian $want mirror in this machine's apt sources" >&2
    return 1
  fi
  echo "$uri"
}

# apt state for the private suites lives in the cache too.
private_apt() {
  local suite=$1 dir="$cache/apt-$1" main security
  mkdir -p "$dir/lists/partial"
  local comp="main"
  main=$(mirror main)
  case $suite in
    bullseye) security=$(mirror security)
              printf 'deb %s bullseye-security %s\ndeb %s bullseye %s\n' \
                "$security" "$comp" "$main" "$comp" >"$dir/sources.list.new" ;;
    *) echo "deb $main $suite $comp" >"$dir/sources.list.new" ;;
  esac
  # Rewritten only when it changes: a newer list makes apt rebuild its
  # 50 MB caches on every run.
  if cmp -s "$dir/sources.list.new" "$dir/sources.list"; then
    rm -f "$dir/sources.list.new"
  else
    mv "$dir/sources.list.new" "$dir/sources.list"
  fi
  local opts=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o "Dir::Etc::sourceparts=-"
              -o "Dir::State::lists=$dir/lists" -o "Dir::Cache::pkgcache=$dir/pkgcache.bin"
              -o "Dir::Cache::srcpkgcache=$dir/srcpkgcache.bin" -o "APT::Get::List-Cleanup=0")
  # Refreshed at most once a day: the lists are large.
  if [ ! -f "$dir/updated" ] || [ -n "$(find "$dir/updated" -mmin +1440)" ]; then
    apt-get "${opts[@]}" update -qq >&2
    touch "$dir/updated"
  fi
  printf '%s\n' "${opts[@]}"
}

# The concrete image package behind a meta-package.
resolve() {
  local meta=$1; shift
  apt-cache "$@" depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}

fetch() {
  local name=$1 meta opts=()
  case $name in
    6.1) meta=linux-image-cloud-amd64 ;;
    6.12) meta=linux-image-6.12-cloud-amd64 ;;
    5.10) meta=linux-image-cloud-amd64; mapfile -t opts < <(private_apt bullseye) ;;
    sid) meta=linux-image-cloud-amd64; mapfile -t opts < <(private_apt sid) ;;
    *) echo "unknown kernel $name (5.10, 6.1, 6.12, sid)" >&2; return 2 ;;
  esac
  local pkg
  pkg=$(resolve "$meta" "${opts[@]}")
  # The package last resolved for this name stands in when apt cannot
  # answer now (a mirror or cache hiccup), if its image is still here.
  if [ -z "$pkg" ] && [ -f "$cache/resolved-$name" ] &&
    [ -f "$cache/$(cat "$cache/resolved-$name")/.done" ]; then
    pkg=$(cat "$cache/resolved-$name")
    echo "kernels.sh: cannot resolve $meta for $name now; using $pkg, resolved before" >&2
  fi
  [ -n "$pkg" ] || { echo "kernels.sh: cannot resolve $meta for $name" >&2; return 1; }
  echo "$pkg" >"$cache/resolved-$name"
  local dir="$cache/$pkg"
  if [ ! -f "$dir/.done" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    # Signed images are a wrapper around the same files; both extract alike.
    (cd "$dir" && apt-get "${opts[@]}" download -qq "$pkg" >&2)
    dpkg-deb -x "$dir"/*.deb "$dir"
    rm -f "$dir"/*.deb
    # Newer kernels (Debian 14+) split the image: the kernel is in
    # linux-binary-VER (usr/lib/modules/VER/vmlinuz), the modules in
    # linux-modules-VER. Lay them out like the older packages.
    local ver=${pkg#linux-image-}
    if ! ls "$dir"/boot/vmlinuz-* >/dev/null 2>&1; then
      (cd "$dir" && apt-get "${opts[@]}" download -qq "linux-binary-$ver" "linux-modules-$ver" >&2)
      for deb in "$dir"/*.deb; do dpkg-deb -x "$deb" "$dir"; done
      rm -f "$dir"/*.deb
      mkdir -p "$dir/boot" "$dir/lib"
      ln -sf "../usr/lib/modules/$ver/vmlinuz" "$dir/boot/vmlinuz-$ver"
      [ -e "$dir/lib/modules" ] || ln -s ../usr/lib/modules "$dir/lib/modules"
    fi
    touch "$dir/.done"
  fi
  echo "$name $dir"
}

for k in "$@"; do fetch "$k"; done
