%include "common.inc"
start:
  mov ecx, 0xC0000080       ; EFER: read intercepted by the MSRPM
  rdmsr
  mov ecx, 0xC0000081       ; STAR: write intercepted
  wrmsr
  mov ecx, 0x40000000       ; outside the three MSRPM ranges: always intercepted
  rdmsr
  mov ecx, 0x277            ; PAT: not intercepted, executes in the guest
  rdmsr
  vmmcall
steps: dq start
