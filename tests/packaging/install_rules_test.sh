#!/usr/bin/env bash
# Issue 13: `cmake --install` into a temporary prefix installs the CLI (the
# verifier), its systemd unit, the example configuration and the docs; the
# installed binary finds its images and reads the example configuration (its
# keys are all options of `verifier serve`); systemd-analyze accepts the unit.
# The .deb is the same install staged by CPack: scripts/package.sh builds and
# checks it (slower; run by hand and in release CI, docs/operations.md).
# Usage: install_rules_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/usr" >"$tmp/install.log"
(cd "$tmp/usr" && find . -type f | sort) >"$tmp/files"
for f in ./bin/redoubt ./lib/systemd/system/redoubt-verifier.service ./share/doc/redoubt/examples/verifier.toml \
         ./share/doc/redoubt/operations.md ./share/doc/redoubt/verifier-auth.md ./share/doc/redoubt/README.md \
         ./lib/redoubt/hv.bin ./lib/redoubt/sl.bin ./share/doc/redoubt/schemas/attest.json; do
  grep -qx "$f" "$tmp/files" || fail "cmake --install did not install $f (installed: $(tr '\n' ' ' <"$tmp/files"))"
done
echo "installed $(wc -l <"$tmp/files") files"

# The installed binary, away from the build tree, finds the images in PREFIX/lib/redoubt.
out=$(cd "$tmp" && env -u REDOUBT_BUILD_DIR "$tmp/usr/bin/redoubt" slb show "$tmp/usr/lib/redoubt/sl.bin")
echo "$out" | grep -q "SLB" || fail "installed redoubt slb show: $out"

# The example configuration: every key is an option (an unknown one would be named); it then stops
# at the first file the example expects in /etc/redoubt.
set +e
err=$(cd "$tmp" && "$tmp/usr/bin/redoubt" verifier serve --config "$tmp/usr/share/doc/redoubt/examples/verifier.toml" 2>&1 >/dev/null)
rc=$?
set -e
[ $rc -ne 0 ] || fail "verifier serve with the example config and no /etc/redoubt files started"
[ $rc -ne 86 ] || fail "sanitizer report (exit 86, docs/running.md \"Sanitizer pass\"): $err"
echo "$err" | grep -q "unknown key" && fail "the example configuration has unknown keys: $err"
echo "$err" | grep -q "/etc/redoubt/" || fail "expected a missing /etc/redoubt file, got: $err"
echo "example config parsed; stops at: $err"

# The unit, as systemd reads it (ExecStart pointed at the installed binary; the config check left out).
if command -v systemd-analyze >/dev/null; then
  sed -e "s|/usr/bin/redoubt|$tmp/usr/bin/redoubt|" -e '/^ConditionPathExists=/d' \
    "$tmp/usr/lib/systemd/system/redoubt-verifier.service" >"$tmp/redoubt-verifier.service"
  v=$(systemd-analyze verify "$tmp/redoubt-verifier.service" 2>&1 || true)
  if echo "$v" | grep -v -e "Failed to .*bus" -e "^$" | grep -q "redoubt-verifier.service"; then fail "systemd-analyze verify: $v"; fi
  echo "systemd-analyze verify: ok"
fi
echo "PASS"
