/* The hypervisor's 256 interrupt/exception entry stubs (idt.cpp installs them).
 * Each stub is 16 bytes: it pushes a zero error code where the CPU pushes none
 * (AMD APM vol. 2 §8.2: #DF 8, #TS 10, #NP 11, #SS 12, #GP 13, #PF 14, #AC 17,
 * #CP 21, #VC 29, #SX 30 push one), then the vector, and joins isr_common,
 * which saves the GPRs and calls hv_isr(IsrFrame*). */
    .section .text.hv_isr, "ax"
    .code64

    .balign 16
    .globl hv_isr_stubs
hv_isr_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    push $0
    .endif
    push $vec
    jmp isr_common
    .set vec, vec + 1
    .endr

isr_common:
    /* RSP is 16-byte aligned by the CPU before its 5-qword frame (§8.9.3);
     * with error code + vector + 15 GPRs it is aligned again at the call. */
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    cld
    mov %rsp, %rdi
    call hv_isr
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp                       /* vector and error code */
    iretq
