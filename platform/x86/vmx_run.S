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
#define G_RAX 0
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
    mov %cr0, %rax                      /* EM = TS = 0 for FXRSTOR */
    and $~0xC, %rax
    mov %rax, %cr0
    fxrstor64 (%rdx)                    /* the guest's x87/SSE state */
    mov X_DR0(%rdx), %rax
    mov %rax, %dr0
    mov X_DR1(%rdx), %rax
    mov %rax, %dr1
    mov X_DR2(%rdx), %rax
    mov %rax, %dr2
    mov X_DR3(%rdx), %rax
    mov %rax, %dr3
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
    xor %eax, %eax                      /* no guest breakpoint address stays in the host's DRs */
    mov %rax, %dr0
    mov %rax, %dr1
    mov %rax, %dr2
    mov %rax, %dr3
    mov %cr0, %rax                      /* EM = 1 again */
    or $4, %rax
    mov %rax, %cr0
    jmp 7f

vmx_exit:
    /* VM exit: RSP = HOST_RSP (this frame), RIP here, RFLAGS = 2; the GPRs are the guest's. */
    push %rsi
    mov 16(%rsp), %rsi                  /* gprs (one push deeper) */
    mov %rax, G_RAX(%rsi)
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
    mov 24(%rsp), %rax
    mov %cr2, %rcx
    mov %rcx, (%rax)                    /* the guest's CR2 back */
    mov 16(%rsp), %rcx                  /* ext */
    test %rcx, %rcx
    jz 6f
    fxsave64 (%rcx)                     /* the guest's x87/SSE state back (HOST_CR0.EM = 0) */
    mov %dr0, %rax
    mov %rax, X_DR0(%rcx)
    mov %dr1, %rax
    mov %rax, X_DR1(%rcx)
    mov %dr2, %rax
    mov %rax, X_DR2(%rcx)
    mov %dr3, %rax
    mov %rax, X_DR3(%rcx)
    xor %eax, %eax
    mov %rax, %dr0
    mov %rax, %dr1
    mov %rax, %dr2
    mov %rax, %dr3
    mov %cr0, %rax                      /* EM = 1 again: any host x87/SSE instruction faults */
    or $4, %rax
    mov %rax, %cr0
6:
    movq $0, 0(%rsp)
7:
    /* No guest value survives in a caller-saved register. */
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %edi, %edi
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    mov 0(%rsp), %rax
    add $32, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
