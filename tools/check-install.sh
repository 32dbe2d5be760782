#!/usr/bin/env bash
# Description: checks that a build installs and packages: `cmake --install`
# into a temporary prefix (the binary, the tools, the docs, each runnable or
# present), then `cpack -G DEB` and the package's contents and dependencies.
# Removes everything it made. usage: tools/check-install.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: check-install.sh BUILD_DIR}" && pwd)
tmp=$(mktemp -d /tmp/iomodels-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-install: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/usr" >/dev/null
for f in bin/iomodels bin/iomodels-suite bin/iomodels-plot bin/iomodels-plot-chain bin/iomodels-models-table \
  bin/iomodels-threads-sweep bin/iomodels-plot-ladder; do
  [[ -x "$tmp/usr/$f" ]] || fail "$f not installed as an executable"
done
for f in README.md LICENSE docs/README.md docs/models.md docs/coroutines.md docs/calibrate.md results/README.md; do
  [[ -f "$tmp/usr/share/doc/iomodels/$f" ]] || fail "share/doc/iomodels/$f not installed"
done
grep -q '^## Quick start' "$tmp/usr/share/doc/iomodels/README.md" ||
  fail "share/doc/iomodels/README.md is not the top-level README"
"$tmp/usr/bin/iomodels" --version | grep -q . || fail "the installed iomodels gives no version"
"$tmp/usr/bin/iomodels" list >/dev/null || fail "the installed iomodels cannot list its models"
"$tmp/usr/bin/iomodels-plot" --help >/dev/null || fail "iomodels-plot --help failed"
"$tmp/usr/bin/iomodels-models-table" --help >/dev/null || fail "iomodels-models-table --help failed"
"$tmp/usr/bin/iomodels-threads-sweep" --help >/dev/null || fail "iomodels-threads-sweep --help failed"
"$tmp/usr/bin/iomodels-plot-ladder" --help >/dev/null || fail "iomodels-plot-ladder --help failed"
# Installed, the suite finds the iomodels beside it and builds nothing.
grep -q 'iomodels="$here/iomodels"' "$tmp/usr/bin/iomodels-suite" || fail "iomodels-suite is not the suite"

(cd "$build" && cpack -G DEB -B "$tmp/pkg" >/dev/null 2>&1) || fail "cpack -G DEB failed"
deb=$(ls "$tmp"/pkg/iomodels_*.deb) || fail "cpack made no .deb"
depends=$(dpkg-deb -f "$deb" Depends)
for p in liburing2 python3-matplotlib libbenchmark1debian; do
  [[ "$depends" == *"$p"* ]] || fail "the package does not depend on $p (Depends: $depends)"
done
contents=$(dpkg-deb -c "$deb")
[[ "$contents" == *" ./usr/bin/iomodels"$'\n'* ]] || fail "the package has no /usr/bin/iomodels"
echo "check-install: installed and packaged: $(basename "$deb"); Depends: $depends"
