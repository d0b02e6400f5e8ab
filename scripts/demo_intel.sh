#!/usr/bin/env bash
# The demo's launch on the simulated Intel TXT platform (docs/intel.md "The Intel platform"), on an
# already built tree (scripts/demo.sh builds):
#   1. a corporate guest PKI and the platform owner's launch policy (as scripts/demo_job.sh);
#   2. GETSEC[SENTER] with the demo SINIT ACM -> sl.bin as the MLE on SINIT's PMRs -> hv.bin, which
#      hands the PMRs to VT-d and runs the four signed guests on VT-x with EPT.
# Remote attestation of an Intel launch is not part of it yet (the verifier's Intel PCR17/18 layout
# is another piece of issue 12). Env: REDOUBT (default build/redoubt), DEMO_OUT (default
# out/demo-intel, recreated). Extra arguments go to `redoubt run`. Exit code: `redoubt run`'s.
set -euo pipefail
cd "$(dirname "$0")/.."
R=${REDOUBT:-build/redoubt}
D=${DEMO_OUT:-out/demo-intel}
case "$D" in "" | / | . | ..) echo "DEMO_OUT=$D: refusing to recreate that directory" >&2; exit 2 ;; esac
rm -rf "$D"
mkdir -p "$D"
step() { printf '\n=== %s\n' "$*"; }

step "Corporate guest PKI and the platform owner's launch policy"
$R pki init "$D/pki" >/dev/null
$R sign policy --key "$D/pki/owner.key.pem" --anchor "$D/pki/root.crt.pem" --name demo-launch-policy \
  --out "$D/launch.policy"

step "Measured launch on Intel (GETSEC[SENTER] -> SINIT -> secure loader as MLE -> hypervisor on VT-x, VT-d) and signed guests"
exec $R run --platform intel --tpm inproc --state "$D/state" --out "$D/run" --pki "$D/pki" \
  --policy "$D/launch.policy" --owner "$D/pki/owner.pub.pem" --stats "$@"
