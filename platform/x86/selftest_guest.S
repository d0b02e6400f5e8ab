/* The VMRUN self-test guest (hv_selftest.cpp): 64-bit code the hypervisor runs
 * under AMD-V with nested paging. It reads three MSRs that only VMLOAD puts in
 * place (APM vol. 2 §15.5.2), writes one that only VMSAVE brings back, inverts
 * all 15 GPRs (RSP excepted) and exits with VMMCALL; then it loops on VMMCALL
 * so the host can time round trips. In: RDI = result buffer (u64[3]). */
    .section .text.selftest_guest, "ax"
    .code64
    .globl selftest_guest
selftest_guest:
    push %rax
    push %rcx
    push %rdx
    mov $0xC0000100, %ecx               /* FS.base */
    rdmsr
    mov %eax, 0(%rdi)
    mov %edx, 4(%rdi)
    mov $0xC0000102, %ecx               /* KernelGSbase */
    rdmsr
    mov %eax, 8(%rdi)
    mov %edx, 12(%rdi)
    mov $0xC0000082, %ecx               /* LSTAR */
    rdmsr
    mov %eax, 16(%rdi)
    mov %edx, 20(%rdi)
    mov $0x5A5A5A5A, %eax               /* LSTAR = 0x00007A5A5A5A5A5A */
    mov $0x00007A5A, %edx
    wrmsr
    pop %rdx
    pop %rcx
    pop %rax
    not %rax
    not %rcx
    not %rdx
    not %rbx
    not %rbp
    not %rsi
    not %rdi
    not %r8
    not %r9
    not %r10
    not %r11
    not %r12
    not %r13
    not %r14
    not %r15
    vmmcall
    .globl selftest_guest_loop
selftest_guest_loop:
    vmmcall                             /* 3 bytes: the host adds 3 to RIP */
    jmp selftest_guest_loop
