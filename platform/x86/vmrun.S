/* bare_svm_vmrun(vmcb_pa, GuestGprs* gprs, host_save_pa, GuestExtState* ext): one world switch
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
 * back to *gprs (platform/hal/svm.hpp GuestGprs: the x86 encoding order).
 * Neither VMRUN nor VMSAVE/VMLOAD switches DR0-DR3 or the x87/SSE state: with
 * ext != 0 they come from and go back to *ext (FXRSTOR64/FXSAVE64 of a 512-byte
 * image at ext+0, DR0-3 at ext+512), so no guest ever sees another's. The host
 * runs with CR0.EM = 1 (no host x87/SSE); the stub clears EM/TS around the two
 * FX instructions only. VMRUN saves the host CR0 (EM = 0 then) and #VMEXIT
 * restores it, so EM is set again after the guest's state is stored. */
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
#define X_DR0 512
#define X_DR1 520
#define X_DR2 528
#define X_DR3 536
bare_svm_vmrun:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rcx                           /* 24(%rsp): ext (0: not switched) */
    push %rsi                           /* 16(%rsp): gprs */
    push %rdx                           /* 8(%rsp): host save area */
    push %rdi                           /* 0(%rsp): VMCB */
    clgi                                /* already 0; kept so the stub never depends on it */
    test %rcx, %rcx
    jz 1f
    mov %cr0, %rax                      /* EM = TS = 0 for FXRSTOR (#NM otherwise, APM vol. 4) */
    and $~0xC, %rax
    mov %rax, %cr0
    fxrstor64 (%rcx)                    /* the guest's x87/SSE state */
    mov X_DR0(%rcx), %rax
    mov %rax, %dr0
    mov X_DR1(%rcx), %rax
    mov %rax, %dr1
    mov X_DR2(%rcx), %rax
    mov %rax, %dr2
    mov X_DR3(%rcx), %rax
    mov %rax, %dr3
1:
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
    mov 24(%rsp), %rcx                  /* ext */
    test %rcx, %rcx
    jz 2f
    fxsave64 (%rcx)                     /* the guest's x87/SSE state back (host CR0.EM = 0 still) */
    mov %dr0, %rax
    mov %rax, X_DR0(%rcx)
    mov %dr1, %rax
    mov %rax, X_DR1(%rcx)
    mov %dr2, %rax
    mov %rax, X_DR2(%rcx)
    mov %dr3, %rax
    mov %rax, X_DR3(%rcx)
    xor %eax, %eax                      /* no guest breakpoint address stays in the host's DRs */
    mov %rax, %dr0
    mov %rax, %dr1
    mov %rax, %dr2
    mov %rax, %dr3
    mov %cr0, %rax                      /* EM = 1 again: any host x87/SSE instruction faults */
    or $4, %rax
    mov %rax, %cr0
2:
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
    add $32, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
