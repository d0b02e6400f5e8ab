; Programs for the translator's test (jit_test.cpp): each at a fixed 256-byte slot of kCode,
; each a loop that runs a block often enough to be translated, then does what a translated
; block must handle exactly as the interpreter does.
bits 64
org 0x100000

; slot 0: a store patches an instruction of a block already translated, once (ecx = 10).
smc:
  xor eax, eax
  mov ecx, 40
.l:
  cmp ecx, 10
  jne .skip
  mov byte [rel .add + 2], 5    ; add eax, 1 -> add eax, 5
.skip:
.add:
  add eax, strict byte 1        ; 83 C0 01
  dec ecx
  jnz .l
  hlt

times 0x100 - ($ - $$) db 0xCC
; slot 1: a fault in the middle of a translated block (the load at iteration ecx = 5 reads a
; non-canonical address: #GP(0) with RIP at the load, the ADD before it done, nothing after it).
gp_mid_block:
  xor eax, eax
  xor edi, edi
  mov ecx, 20
  mov rsi, 0x300000
.l:
  cmp ecx, 5
  jne .go
  mov rsi, 0x8000000000000000
.go:
  add rax, 3
.load:
  mov rdx, [rsi]
  add rdi, rdx
  dec ecx
  jnz .l
  hlt

times 0x200 - ($ - $$) db 0xCC
; slot 2: #DE raised by a helper (DIV is not translated inline) in a translated block.
de_in_helper:
  mov ebx, 12
  xor edi, edi
.l:
  mov eax, 1000
  xor edx, edx
.div:
  div rbx
  add rdi, rax
  dec ebx
  jmp .l

times 0x300 - ($ - $$) db 0xCC
; slot 3: a C++ error raised by a helper (a far jump through a call gate: not modelled) in a
; translated block (the test puts a call-gate descriptor at GDT selector 0x30).
cpu_error_in_helper:
  xor eax, eax
  jmp far [rel .fp]               ; REX.W FF /5, m16:64
.fp:
  dq 0
  dw 0x30

times 0x400 - ($ - $$) db 0xCC
; slot 4: the fault handler: stop.
handler:
  hlt

times 0x500 - ($ - $$) db 0xCC
; slot 5: arithmetic whose flags the translated code keeps in host flags across a block
; (the sum, the carries and the counts of every condition, over 64 iterations).
flags_loop:
  xor eax, eax
  xor ebx, ebx
  xor edi, edi
  mov rdx, 0x0123456789ABCDEF
  mov ecx, 64
.l:
  add rdx, rdx
  adc rax, 0                    ; carry out of the doubling (ADC: a helper)
  ror rdx, 7                    ; flags live until the SETC below
  setc bl
  add rdi, rbx
  xor rdx, rcx
  sub edx, 0x5A5A5A5A
  cmovs rbx, rdx
  add rdi, rbx
  dec ecx
  jnz .l
  hlt
