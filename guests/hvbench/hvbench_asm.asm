bits 64
section .text
global npf_loop, isr_skip_pf
npf_loop:                    ; rdi = unmapped address, rsi = iterations
.l: mov rax, [rdi]           ; 48 8B 07: #NPF -> #PF injected -> skipped below
    dec rsi
    jnz .l
    ret
isr_skip_pf:                 ; [rsp] = error code, [rsp+8] = RIP of the 3-byte load
    add qword [rsp + 8], 3
    add rsp, 8
    iretq
