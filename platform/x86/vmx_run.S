/* bare_vmx_enter(launch, GuestGprs* gprs, GuestExtState* ext, uint64_t* cr2): one VM entry
 * and its VM exit (as KVM's __vmx_vcpu_run). Intel SDM vol. 3C:
 *  §27.3.2  VM entry loads RSP, RIP, RFLAGS, CRs, segments, EFER/PAT from the VMCS; no
 *           general-purpose register but RSP, and not CR2, DR0-3 or x87/SSE state;
 *  §28.5    VM exit loads the host state of the VMCS: HOST_RSP and HOST_RIP (written here at
 *           every entry: this frame and vmx_exit), HOST_CR0 (written here: EM = 0 while ext
 *           is switched, so the FXSAVE after the exit works), the rest by write_host_state.
 * The guest's GPRs (RAX included: unlike SVM there is no VMCB slot for it) come from and go
 * back to *gprs; CR2 from and to *cr2; with ext != 0 DR0-3 and x87/SSE from and to *ext.
 * Returns 0 after a VM exit, 1 if VMLAUNCH/VMRESUME failed with VMfailInvalid (CF), 2 with
 * VMfailValid (ZF; the VM-instruction error field says why, §31.4). */
    .section .text.bare_vmx_enter, "ax"
    .code64
    .globl bare_vmx_enter
#include "guest_switch.inc"
#define HOST_CR0 0x6C00
#define HOST_RSP 0x6C14
#define HOST_RIP 0x6C16
bare_vmx_enter:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rcx                           /* 24(%rsp): cr2 */
    push %rdx                           /* 16(%rsp): ext (0: not switched) */
    push %rsi                           /* 8(%rsp): gprs */
    push %rdi                           /* 0(%rsp): launch; then the return value */
    test %rdx, %rdx
    jz 1f
    load_guest_ext %rdx                 /* the guest's x87/SSE state and DR0-3 */
1:
    mov %cr0, %rax
    mov $HOST_CR0, %rbx
    vmwrite %rax, %rbx
    lea vmx_exit(%rip), %rax
    mov $HOST_RIP, %rbx
    vmwrite %rax, %rbx
    mov $HOST_RSP, %rbx
    vmwrite %rsp, %rbx
    mov 24(%rsp), %rax
    mov (%rax), %rax
    mov %rax, %cr2                      /* the guest's CR2 (no VMCS field holds it) */
    mov 8(%rsp), %rsi
    cmpq $0, 0(%rsp)                    /* ZF = 1: VMRESUME; the MOVs below keep the flags */
    mov G_RAX(%rsi), %rax
    load_guest_gprs %rsi                /* MOVs: ZF survives */
    mov G_RSI(%rsi), %rsi
    jz 2f
    vmlaunch
    jmp 3f
2:
    vmresume
3:  /* the entry failed (§31.2): CF = VMfailInvalid, ZF = VMfailValid; the guest never ran */
    jc 4f
    movq $2, 0(%rsp)
    jmp 5f
4:
    movq $1, 0(%rsp)
5:
    mov 16(%rsp), %rcx
    test %rcx, %rcx
    jz 7f
    clear_dr_set_em
    jmp 7f

vmx_exit:
    /* VM exit: RSP = HOST_RSP (this frame), RIP here, RFLAGS = 2; the GPRs are the guest's. */
    push %rsi
    mov 16(%rsp), %rsi                  /* gprs (one push deeper) */
    mov %rax, G_RAX(%rsi)
    store_guest_gprs %rsi
    pop %rax
    mov %rax, G_RSI(%rsi)
    mov 24(%rsp), %rax
    mov %cr2, %rcx
    mov %rcx, (%rax)                    /* the guest's CR2 back */
    mov 16(%rsp), %rcx                  /* ext */
    test %rcx, %rcx
    jz 6f
    save_guest_ext %rcx                 /* the guest's x87/SSE state and DR0-3 back (HOST_CR0.EM = 0) */
    clear_dr_set_em
6:
    movq $0, 0(%rsp)
7:
    scrub_caller_saved_but_rax          /* no guest value survives in a caller-saved register */
    mov 0(%rsp), %rax
    add $32, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
