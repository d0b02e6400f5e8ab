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
#include "guest_switch.inc"
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
    load_guest_ext %rcx                 /* the guest's x87/SSE state and DR0-3 */
1:
    mov %rdx, %rax
    vmsave                              /* host FS/GS/TR/LDTR/KernelGsBase/STAR... */
    mov %rdi, %rax
    vmload                              /* the guest's */
    load_guest_gprs %rsi
    mov G_RSI(%rsi), %rsi
    vmrun                               /* RAX = VMCB physical address */
    /* #VMEXIT: RAX, RSP, RIP are the host's again (from VM_HSAVE_PA); GIF = 0. */
    push %rsi
    mov 24(%rsp), %rsi                  /* gprs (one push deeper) */
    store_guest_gprs %rsi
    pop %rax
    mov %rax, G_RSI(%rsi)
    mov 24(%rsp), %rcx                  /* ext */
    test %rcx, %rcx
    jz 2f
    save_guest_ext %rcx                 /* the guest's x87/SSE state and DR0-3 back (host CR0.EM = 0 still) */
    clear_dr_set_em
2:
    mov 0(%rsp), %rax
    vmsave                              /* the guest's hidden state back into its VMCB */
    mov 8(%rsp), %rax
    vmload                              /* the host's */
    /* No guest value survives in a caller-saved register. */
    xor %eax, %eax
    scrub_caller_saved_but_rax
    add $32, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
