; Calls a C function loaded separately: entry at [0x5100], argument at [0x5108];
; reports its return value in RAX with VMMCALL.
%include "common.inc"
start:
  mov rsp, 0x200000
  mov rdi, [0x5108]
  mov rax, [0x5100]
  call rax
  vmmcall
  jmp start
steps: dq start
