/* bare_svm_vmrun(vmcb_pa, GuestGprs* gprs, host_save_pa): one world switch
 * (as KVM's __svm_vcpu_run). AMD APM vol. 2:
 *  §15.5.1  VMRUN saves/loads RAX, RSP, RIP, RFLAGS, CRx, EFER, segments (CS, SS,
 *           DS, ES) and GDTR/IDTR through the VMCB and VM_HSAVE_PA;
 *  §15.5.2  FS, GS, TR, LDTR (with hidden state), KernelGsBase, STAR, LSTAR,
 *           CSTAR, SFMASK and SYSENTER_CS/ESP/EIP are NOT switched by VMRUN:
 *           VMSAVE/VMLOAD move them (host to host_save_pa, guest from the VMCB);
 *  §15.17   GIF: VMRUN sets it, #VMEXIT clears it. The hypervisor runs with
 *           GIF = 0 (as SKINIT leaves it; bare_svm.cpp's enable() executes CLGI
 *           on machines that did not come through SKINIT), so nothing can
 *           interrupt the half-switched state between VMLOAD and VMRUN.
 * The other GPRs (all but RAX and RSP, which live in the VMCB) come from and go
 * back to *gprs (platform/hal/svm.hpp GuestGprs: the x86 encoding order). */
    .section .text.bare_svm_vmrun, "ax"
    .code64
    .globl bare_svm_vmrun
#define G_RCX 8
#define G_RDX 16
#define G_RBX 24
#define G_RBP 40
#define G_RSI 48
#define G_RDI 56
#define G_R8 64
#define G_R9 72
#define G_R10 80
#define G_R11 88
#define G_R12 96
#define G_R13 104
#define G_R14 112
#define G_R15 120
bare_svm_vmrun:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rsi                           /* 16(%rsp): gprs */
    push %rdx                           /* 8(%rsp): host save area */
    push %rdi                           /* 0(%rsp): VMCB */
    clgi                                /* already 0; kept so the stub never depends on it */
    mov %rdx, %rax
    vmsave                              /* host FS/GS/TR/LDTR/KernelGsBase/STAR... */
    mov %rdi, %rax
    vmload                              /* the guest's */
    mov G_RCX(%rsi), %rcx
    mov G_RDX(%rsi), %rdx
    mov G_RBX(%rsi), %rbx
    mov G_RBP(%rsi), %rbp
    mov G_RDI(%rsi), %rdi
    mov G_R8(%rsi), %r8
    mov G_R9(%rsi), %r9
    mov G_R10(%rsi), %r10
    mov G_R11(%rsi), %r11
    mov G_R12(%rsi), %r12
    mov G_R13(%rsi), %r13
    mov G_R14(%rsi), %r14
    mov G_R15(%rsi), %r15
    mov G_RSI(%rsi), %rsi
    vmrun                               /* RAX = VMCB physical address */
    /* #VMEXIT: RAX, RSP, RIP are the host's again (from VM_HSAVE_PA); GIF = 0. */
    push %rsi
    mov 24(%rsp), %rsi                  /* gprs (one push deeper) */
    mov %rcx, G_RCX(%rsi)
    mov %rdx, G_RDX(%rsi)
    mov %rbx, G_RBX(%rsi)
    mov %rbp, G_RBP(%rsi)
    mov %rdi, G_RDI(%rsi)
    mov %r8, G_R8(%rsi)
    mov %r9, G_R9(%rsi)
    mov %r10, G_R10(%rsi)
    mov %r11, G_R11(%rsi)
    mov %r12, G_R12(%rsi)
    mov %r13, G_R13(%rsi)
    mov %r14, G_R14(%rsi)
    mov %r15, G_R15(%rsi)
    pop %rax
    mov %rax, G_RSI(%rsi)
    mov 0(%rsp), %rax
    vmsave                              /* the guest's hidden state back into its VMCB */
    mov 8(%rsp), %rax
    vmload                              /* the host's */
    /* No guest value survives in a caller-saved register. */
    xor %eax, %eax
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %edi, %edi
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    add $24, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
