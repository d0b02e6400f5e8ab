#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the benchmarks need.
# Idempotent: does nothing (and needs no network) when all are present.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ccache   # ccache: rebuilds in CI reuse objects
  libtss2-dev libtpms-dev swtpm swtpm-tools tpm2-tools   # TPM 2.0: ESAPI, libtpms, swtpm, interop tools
  libssl-dev libbearssl-dev                              # OpenSSL 3 (host), BearSSL (freestanding)
  libcbor-dev nlohmann-json3-dev libcli11-dev            # formats and CLI
  libboost-test-dev                                      # Boost.Test
  libzydis-dev nasm                                      # guest decoding / guest images (AMD-V issue)
  libxbyak-dev                                           # the simulator's translator to host code (platform/sim/cpu/jit*.cpp)
  libcpp-httplib-dev libsqlite3-dev                      # attestation service (later issue)
  postgresql-15 libpq-dev                                # verifier store on PostgreSQL; tests start their own server (issue 13)
  clang-14 libclang-rt-14-dev                            # libFuzzer, sanitizer runtimes
  qemu-system-x86                                        # the real images under QEMU TCG (SVM + NPT)
  bochs bochsbios vgabios grub-pc-bin xorriso mtools    # hv.bin's VMX backend on Bochs 2.7 (docs/intel.md "Bochs"; bochs_vmx_test)
  python3-matplotlib                                     # `redoubt report`: plots of runs and exit traces
  python3 python3-jsonschema                             # doc tests, the --json schemas (issue 15)
  chromium chromium-driver                               # the verifier's status page in a headless browser (issue 13)
  python3-jwcrypto                                       # checks the verifier's EAR with its JWKS, not our code (issue 13)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
