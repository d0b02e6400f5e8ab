; Tight loop for the benchmark: RCX iterations of 4 instructions, then VMMCALL.
%include "common.inc"
start:
  xor eax, eax
.loop:
  add rax, rcx
  xor rax, 0x55
  dec rcx
  jnz .loop
  vmmcall
  jmp start
steps: dq start
