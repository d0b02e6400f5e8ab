; 32-bit protected mode, paging off (the SKINIT state, loaded at 0x100000):
; stack widths of PUSH/POP/CALL/RET, PUSHFD/POPFD, LEAVE, LOOP, far CALL/RETF
; and IRETD at the same privilege level. Results are stored at RES.
bits 32
org 0x100000
RES equ 0x180000
  jmp entry
  align 8
  dd after_call           ; +8
  dd far_target           ; +12
  dd after_far            ; +16
  dd iret_target          ; +20
entry:
  mov [RES + 0], esp                  ; ESP0
  push dword 0xAABBCCDD
  mov [RES + 4], esp                  ; ESP0 - 4
  push word 0x1234                    ; 16-bit push: 2 bytes
  mov [RES + 8], esp                  ; ESP0 - 6
  pop ax
  pop ebx
  mov [RES + 12], ebx                 ; 0xAABBCCDD
  call near_fn
after_call:
  mov [RES + 20], esp                 ; ESP0 again
  push ebp
  mov ebp, esp
  sub esp, 64
  leave                               ; ESP = EBP, pop EBP
  mov [RES + 24], esp                 ; ESP0 again
  pushfd
  pop eax
  mov [RES + 28], eax                 ; EFLAGS image
  mov ecx, 10
  xor edx, edx
.sum:
  add edx, ecx
  loop .sum
  mov [RES + 32], edx                 ; 55
  mov [RES + 36], ecx                 ; 0
  call 0x08:far_target                ; far CALL ptr16:32: pushes CS then EIP (4 bytes each)
after_far:
  mov [RES + 40], esp                 ; ESP0
  pushfd                              ; IRETD frame: EFLAGS, CS, EIP
  push dword 0x08
  push dword iret_target
  iretd
  hlt
iret_target:
  mov [RES + 44], esp                 ; ESP0
  mov eax, 0x600D
  hlt
near_fn:
  mov eax, [esp]
  mov [RES + 16], eax                 ; return address (4 bytes)
  ret
far_target:
  mov eax, [esp]
  mov [RES + 48], eax                 ; return EIP
  mov eax, [esp + 4]
  mov [RES + 52], eax                 ; return CS in a 4-byte slot
  mov [RES + 56], esp                 ; ESP0 - 8
  retf
