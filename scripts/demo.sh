#!/usr/bin/env bash
# The main job, on the embedded in-process TPM (libtpms), printed for a person:
#   1. set up and build (scripts/setup.sh, scripts/build.sh);
#   2..4. scripts/demo_job.sh: a corporate guest PKI and the platform owner's
#      launch policy; the measured launch with four signed guests under the
#      hypervisor; remote attestation (verifier with signed reference values,
#      endpoint enrolment and quote, the relying party's verdict).
# Everything lands in out/demo/ (recreated each time). Extra arguments go to `redoubt run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec scripts/demo_job.sh "$@"
