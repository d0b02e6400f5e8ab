%include "common.inc"
start:
  mov eax, 0x80000001
  cpuid
  vmmcall
steps: dq start
