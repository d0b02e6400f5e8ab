; Guest #PF: not-present read, then (after the host resumes) a write to a
; read-only page, large pages and an NX fetch. Each step ends in VMMCALL.
%include "common.inc"
start:
  mov rcx, 0x7000000000
  mov rax, [rcx]            ; not mapped -> #PF (error 0), CR2 = 0x7000000000
  vmmcall
step2:
  mov qword [0x500000], 1   ; read-only 4K page -> #PF (error P|W = 3)
  vmmcall
step3:
  mov rcx, 0x80000000 + 0x12345
  mov rax, [rcx]            ; 2 MiB page
  mov rcx, 0xC0000000 + 0x234567
  mov rbx, [rcx]            ; 1 GiB page
  vmmcall
step4:
  mov rax, 0x600000         ; NX page -> #PF (P|ID = 0x11) on the fetch
  jmp rax
steps: dq start, step2, step3, step4
