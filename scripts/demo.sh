#!/usr/bin/env bash
# The main job: set up, build, then a measured launch on the embedded
# in-process TPM (libtpms) and the default guests, signed by the demo PKI and
# admitted by the demo launch policy (generated on first use in the state
# directory). Printed for a person; artefacts go to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec build/redoubt run --platform amd --tpm inproc --out out/demo "$@"
