#!/usr/bin/env bash
# Writes stage 2's size and SHA-256 into the stage-2 pin of the SLB image
# (abi/slb_layout.hpp SlbStage2Pin; docs/skinit.md "Two stages"). Run by the
# build after sl.bin is made: SKINIT then measures the pin with the SLB.
# Usage: pin_stage2.sh <sl.elf> <sl.bin> <sl2.bin>
set -euo pipefail
elf=$1 slb=$2 stage2=$3
off=$(nm "$elf" | awk '$3 == "slb_stage2_pin" {print $1}')
[ -n "$off" ] || { echo "pin_stage2: no slb_stage2_pin symbol in $elf" >&2; exit 1; }
off=$((16#$off))   # linked at 0: the link address is the offset in the flat image
[ "$(dd if="$slb" bs=1 skip="$off" count=8 status=none)" = "RDBTS2P1" ] ||
  { echo "pin_stage2: no RDBTS2P1 pin at offset $off of $slb" >&2; exit 1; }
size=$(stat -c %s "$stage2")
[ "$size" -le 1048576 ] || { echo "pin_stage2: $stage2 is $size bytes, above 1 MiB" >&2; exit 1; }
digest=$(sha256sum "$stage2" | cut -d' ' -f1)
le32=$(printf '%08x' "$size" | sed -E 's/(..)(..)(..)(..)/\4\3\2\1/')
printf "$(echo "$le32" | sed 's/../\\x&/g')" | dd of="$slb" bs=1 seek=$((off + 8)) conv=notrunc status=none
printf "$(echo "$digest" | sed 's/../\\x&/g')" | dd of="$slb" bs=1 seek=$((off + 16)) conv=notrunc status=none
echo "pin_stage2: $(basename "$slb") pins $(basename "$stage2") ($size bytes, sha256 ${digest:0:16}...)"
