#!/usr/bin/env bash
# Builds the .deb with CPack from an existing build (default build/) and checks
# that its file list has the binary, the systemd unit, the example config and
# the docs (issue 13; docs/operations.md "Install"). Prints the package's path.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake --build "$BUILD_DIR" --target redoubt >/dev/null
(cd "$BUILD_DIR" && cpack -G DEB >/dev/null)
deb=$(ls -t "$BUILD_DIR"/packages/redoubt_*.deb | head -1)
list=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/redoubt ./usr/lib/systemd/system/redoubt-verifier.service ./usr/share/doc/redoubt/operations.md \
         ./usr/share/doc/redoubt/examples/verifier.toml ./usr/lib/redoubt/hv.bin; do
  echo "$list" | grep -qx "$f" || { echo "package.sh: $deb lacks $f" >&2; exit 1; }
done
echo "$deb: $(stat -c %s "$deb") bytes, $(echo "$list" | grep -vc '/$') files; depends: $(dpkg-deb -f "$deb" Depends)"
