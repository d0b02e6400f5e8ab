; Minimal VMRUN path: arithmetic, a loop, an OUT, VMMCALL, HLT.
%include "common.inc"
start:
  xor ecx, ecx
  mov eax, 1
.loop:
  add rax, rcx
  inc ecx
  cmp ecx, 100
  jne .loop                 ; rax = 1 + 0+1+..+99 = 4951
  mov rbx, rax
  mov dx, 0x3F8
  out dx, al                ; IOIO exit
  mov eax, 0x1234
  vmmcall                   ; VMMCALL exit
  hlt                       ; HLT exit
  jmp start
steps: dq start
