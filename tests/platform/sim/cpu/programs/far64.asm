; Starts in 64-bit mode (CS 0x18) with a 1 GiB identity map, loaded at 0x100000.
; RETF with and without REX.W, RETF imm16, far JMP m16:32 from compatibility
; mode back to 64-bit mode, far CALL m16:64, IRETQ. Results at RES.
bits 64
org 0x100000
RES equ 0x180000
  jmp entry
  align 8
  dd to64                 ; +8
  dd compat               ; +12
  dd back64               ; +16
  dd after_callf          ; +20
entry:
  mov [RES + 0], rsp                  ; RSP0
  push 0x18                           ; RETFQ: pops 8-byte RIP, then 8-byte CS
  mov rax, to64
  push rax
  o64 retf
to64:
  mov [RES + 8], rsp                  ; RSP0
  mov rax, cs
  mov [RES + 16], rax                 ; 0x18
  ; RETF imm16 (REX.W): releases 16 more bytes after CS:RIP
  sub rsp, 16
  push 0x18
  mov rax, to64b
  push rax
  o64 retf 16
to64b:
  mov [RES + 24], rsp                 ; RSP0
  ; RETF without REX.W: 4-byte EIP, 4-byte CS -> the 32-bit code segment 0x08 (compatibility mode)
  sub rsp, 8
  mov dword [rsp], compat
  mov dword [rsp + 4], 0x08
  retf
bits 32
compat:
  mov [RES + 32], esp                 ; RSP0 (as ESP)
  mov eax, cs
  mov [RES + 40], eax                 ; 0x08
  push dword 0x77                     ; 4-byte slot in compatibility mode
  pop eax
  jmp far [ptr32]                     ; m16:32 -> 64-bit code
bits 64
back64:
  mov [RES + 48], rsp                 ; RSP0
  call far [ptr64]                    ; m16:64 (REX.W): pushes 8-byte CS and RIP
after_callf:
  mov [RES + 64], rsp                 ; RSP0
  ; IRETQ to the same level: SS, RSP, RFLAGS, CS, RIP
  mov rax, rsp
  push 0x10
  push rax
  pushfq
  push 0x18
  mov rax, after_iret
  push rax
  iretq
after_iret:
  mov [RES + 72], rsp                 ; RSP0
  mov eax, 0x600D
  hlt
far_fn:
  mov [RES + 56], rsp                 ; RSP0 - 16
  mov rax, [rsp]
  mov [RES + 80], rax                 ; return RIP
  mov rax, [rsp + 8]
  mov [RES + 88], rax                 ; return CS (8-byte slot)
  o64 retf
align 8
ptr32:
  dd back64
  dw 0x18
align 8
ptr64:
  dq far_fn
  dw 0x18
