#!/usr/bin/env bash
# The main job's steps, on an already built tree (scripts/demo.sh sets up and
# builds first; tests/tools/cli_demo_test runs this directly):
#   1. a corporate guest PKI and the platform owner's launch policy;
#   2. the measured launch (SKINIT -> SL -> hypervisor) and four signed guests;
#   3. remote attestation: a verifier with signed reference values, the endpoint
#      enrols (EK certificate in NV, credential activation) and pushes a quote
#      with its DRTM event log, and the relying party asks for the verdict.
# Env: REDOUBT (default build/redoubt), DEMO_OUT (default out/demo, recreated),
# DEMO_ALLOW_EMULATED_DRTM=1 (reference values accept a log with the emulated-DRTM
# marker of a QEMU harness, docs/attestation.md "Emulated DRTM (QEMU)"; default 0: refused).
# Exit code: the verdict's (0 affirming), as `redoubt attest` gives it.
set -euo pipefail
cd "$(dirname "$0")/.."
R=${REDOUBT:-build/redoubt}
D=${DEMO_OUT:-out/demo}
case "$D" in "" | / | . | ..) echo "DEMO_OUT=$D: refusing to recreate that directory" >&2; exit 2 ;; esac
rm -rf "$D"
mkdir -p "$D"
step() { printf '\n=== %s\n' "$*"; }

step "Corporate guest PKI and the platform owner's launch policy"
$R pki init "$D/pki" >/dev/null
$R sign policy --key "$D/pki/owner.key.pem" --anchor "$D/pki/root.crt.pem" --name demo-launch-policy \
  --out "$D/launch.policy"

step "Measured launch (SKINIT -> secure loader -> hypervisor) and signed guests"
$R run --platform amd --tpm inproc --state "$D/state" --out "$D/run" --pki "$D/pki" \
  --policy "$D/launch.policy" --owner "$D/pki/owner.pub.pem" --stats "$@"

step "Remote attestation: verifier, endpoint enrolment and quote, verdict"
$R manufacturer-ca "$D/ca" >/dev/null
$R key gen --curve P-256 --out "$D/authority" >/dev/null
printf '{"type": "redoubt.reference-values/1", "id": "demo-reference"}\n' >"$D/reference.json"
$R verifier sign-reference --in "$D/reference.json" --key "$D/authority.key.pem" --out "$D/reference.cose" \
  --hypervisor-signer "$D/state/demo/hv-signing.pub.pem" --launch-policy "$D/launch.policy" \
  --guest-anchor "$D/pki/root.crt.pem" $(for m in "$D"/run/manifests/*.manifest; do printf -- '--guest-manifest %s ' "$m"; done) \
  $([ "${DEMO_ALLOW_EMULATED_DRTM:-0}" = 1 ] && printf -- '--allow-emulated-drtm') >/dev/null
# Bearer tokens (docs/verifier-auth.md): an issuer key; an admin token enrols, the endpoint's pushes,
# the relying party's reads.
$R key gen --curve P-256 --out "$D/token-issuer" >/dev/null
$R verifier token issue --key "$D/token-issuer.key.pem" --role admin --ttl 3600 --out "$D/admin.token" --force >/dev/null
$R verifier token issue --key "$D/token-issuer.key.pem" --role endpoint --endpoint demo-endpoint --ttl 3600 --out "$D/endpoint.token" --force >/dev/null
$R verifier token issue --key "$D/token-issuer.key.pem" --role relying-party --ttl 3600 --out "$D/rp.token" --force >/dev/null
$R verifier serve --listen 127.0.0.1:0 --db "$D/verifier.db" --manufacturer-ca "$D/ca/ca.cert.pem" \
  --reference "$D/reference.cose" --authority "$D/authority.pub.pem" --token-issuer "$D/token-issuer.pub.pem" \
  --access-log "$D/verifier.access.jsonl" >"$D/verifier.log" 2>&1 &
verifier=$!
trap 'kill $verifier 2>/dev/null || true' EXIT
url=
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on \(http[s]*:\/\/[^ ]*\).*/\1/p' "$D/verifier.log")
  [ -n "$url" ] && break
  kill -0 $verifier 2>/dev/null || { cat "$D/verifier.log"; exit 3; }
  sleep 0.1
done
[ -n "$url" ] || { echo "the verifier did not start" >&2; exit 3; }
echo "verifier at $url (reference values demo-reference: hypervisor signer, launch policy, anchor, 4 guests)"
# The endpoint boots again (same TPM state), enrols and pushes one quote; its exit
# code is the verdict's, which the relying party asks for below either way.
$R endpoint --verifier "$url" --id demo-endpoint --state "$D/state" --manufacturer-ca "$D/ca" \
  --token "$D/endpoint.token" --enrol-token "$D/admin.token" \
  --pki "$D/pki" --policy "$D/launch.policy" --count 1 2>"$D/endpoint.log" || true
grep '^\[endpoint\]' "$D/endpoint.log" || true
printf '\nRelying party: "is demo-endpoint running the approved hypervisor and guests?"\n'
# The relying party pins the verifier's EAR key (given out of band; here the file next to its database).
$R attest --verifier "$url" --verifier-key "$D/verifier.db.pub.pem" --token "$D/rp.token" demo-endpoint
