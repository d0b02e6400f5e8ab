#!/usr/bin/env bash
# Post-link check of a measured image (sl.elf / hv.elf), run by CMake before
# the flat .bin is made; any failure fails the build (docs/skinit.md).
#  1. Relocations: only R_X86_64_RELATIVE (the entry code applies nothing else).
#  2. No SSE/MMX/x87 in our code: the hypervisor must not touch vector/FPU state
#     it does not save (guests own it). Our objects are built with
#     -mgeneral-regs-only; Debian's libbearssl.a is not, so functions defined in
#     it are allowed and listed (they run before any guest exists: docs/hypervisor.md).
# Usage: check_image.sh <image.elf> <libbearssl.a> [objdump] [readelf] [nm]
set -euo pipefail
elf=$1 bearssl=$2
OBJDUMP=${3:-objdump} READELF=${4:-readelf} NM=${5:-nm}
name=$(basename "$elf" .elf)

bad_rel=$("$READELF" -W -r "$elf" | awk '/^[0-9a-f]+ +[0-9a-f]+ R_X86_64_/ && $3 != "R_X86_64_RELATIVE" {print "  " $0}')
if [ -n "$bad_rel" ]; then
  echo "$name: relocations other than R_X86_64_RELATIVE (the entry code cannot apply them):"
  echo "$bad_rel"
  exit 1
fi
nrel=$("$READELF" -W -r "$elf" | grep -c R_X86_64_RELATIVE || true)

# Functions libbearssl.a defines (global or static).
allow=$(mktemp)
trap 'rm -f "$allow"' EXIT
"$NM" --defined-only "$bearssl" 2>/dev/null | awk '$2 ~ /^[Tt]$/ {print $3}' | sort -u >"$allow"

# Data that lives in code sections (GDTs, messages) is typed @object: not code.
objects=$("$READELF" -W -s "$elf" | awk '$4 == "OBJECT" {print $8}' | sort -u | tr '\n' ' ')

# func<TAB>offending line, for every instruction naming an xmm/ymm/zmm/mm/st
# register or an x87 mnemonic (f...).
hits=$("$OBJDUMP" -d --no-show-raw-insn -w "$elf" | awk '
  /^[0-9a-f]+ <.*>:$/ { fn = $2; gsub(/[<>:]/, "", fn); next }
  /^ +[0-9a-f]+:\t/ {
    split($0, parts, "\t"); insn = parts[2]
    # The world switch saves/restores the guests x87/SSE state: FXSAVE64/FXRSTOR64 in
    # bare_svm_vmrun (platform/x86/vmrun.S) are FPU instructions allowed outside BearSSL,
    if (fn == "bare_svm_vmrun" && insn ~ /^fx(save|rstor)64 /) next
    # and the VMX world switch (platform/x86/vmx_run.S: fxrstor64 before the entry, fxsave64 at its exit label).
    if ((fn == "bare_vmx_enter" || fn == "vmx_exit") && insn ~ /^fx(save|rstor)64 /) next
    if (insn ~ /%(xmm|ymm|zmm)[0-9]+|%mm[0-7]|%st([^a-z]|$)/ || insn ~ /^f[a-z0-9]+( |$)/)
      print fn "\t" insn
  }')
ours=""
bssl_fns=""
if [ -n "$hits" ]; then
  while IFS=$'\t' read -r fn insn; do
    if [[ " $objects " == *" $fn "* ]]; then
      continue
    elif grep -qxF "$fn" "$allow"; then
      bssl_fns+="$fn"$'\n'
    else
      ours+="  $fn: $insn"$'\n'
    fi
  done <<<"$hits"
fi
if [ -n "$ours" ]; then
  echo "$name: SSE/MMX/x87 instructions outside BearSSL (compile with -mgeneral-regs-only):"
  printf '%s' "$ours" | head -40
  exit 1
fi
nb=$(printf '%s' "$bssl_fns" | sort -u | grep -c . || true)
size=$(( 0x$("$NM" "$elf" | awk '$3 == "_slb_end" || $3 == "_hv_end" {print $1}') ))
echo "$name: ok: ${nrel} R_X86_64_RELATIVE relocations, loaded size ${size} bytes;" \
  "${nb} BearSSL function(s) use SSE: $(printf '%s' "$bssl_fns" | sort -u | tr '\n' ' ')"
