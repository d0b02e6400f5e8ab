#!/usr/bin/env bash
# The one-way dependency rule between trust domains (docs/architecture.md,
# "Layout"): fails naming every include that crosses a forbidden edge.
set -uo pipefail
cd "$(dirname "$0")/.."
rules=(
  "platform/sim:hypervisor/"  # the simulator models hardware; it runs no program's headers
  "platform/sim:sl/"
  "platform/sim:platform/fake/"
  "hypervisor:sl/"            # the DLME and the SL share only abi/
  "sl:hypervisor/"
  "attestation:platform/"     # the endpoint agent talks to a TPM through tpm/, not to a simulator
  "tpm:platform/sim/"
  "arch:hypervisor/" "arch:sl/" "arch:platform/" "arch:policy/" "arch:tpm/"  # arch/ and abi/ are leaves
  "abi:hypervisor/" "abi:sl/" "abi:platform/sim/" "abi:policy/" "abi:tpm/"
  "platform/hal:sl/" "platform/hal:hypervisor/" "platform/hal:platform/sim/"
)
bad=0
checked=0
for rule in "${rules[@]}"; do
  dir=${rule%%:*}
  inc=${rule#*:}
  checked=$((checked + 1))
  hits=$(grep -rn "#include \"$inc" "$dir" 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "layout: $dir/ must not include $inc:"
    echo "$hits" | sed 's/^/  /'
    bad=$((bad + 1))
  fi
done
echo "layout: $checked rules checked, $bad violated"
[ "$bad" -eq 0 ]
