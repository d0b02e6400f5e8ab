; Touch 64 pages, report, repeat.
%include "common.inc"
start:
  mov rdi, 0x300000
  mov ecx, 64
.loop:
  mov rax, [rdi]
  add rdi, 4096
  dec ecx
  jnz .loop
  vmmcall
  jmp start
steps: dq start
