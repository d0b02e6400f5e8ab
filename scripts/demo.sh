#!/usr/bin/env bash
# The main job: set up, build, and run a measured launch on the embedded
# in-process TPM (libtpms), printed for a person. Artefacts go to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec build/redoubt launch --platform amd --tpm inproc --out out/demo "$@"
