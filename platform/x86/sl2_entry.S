/* Stage 2 of the secure loader: header and 64-bit entry (docs/skinit.md
 * "Two stages"). Called by stage 1 (sl_stage1.cpp) after it DEV-protected this
 * image and matched its SHA-256 against the pin SKINIT measured, with
 * RDI = SLB base, RSI = boot params, RDX = this image's base, in long mode on
 * stage 1's page tables, GDT and stack (all in the SLB). We relocate
 * ourselves, move to our own stack (inside this DEV-protected image), paint
 * it, and run the secure loader proper (sl_main.cpp). */
#include "platform/x86/relocate.inc"

#define EXIT_REFUSED    1           /* abi::ExitStatus::launch_refused */
#define DEBUG_EXIT_PORT 0xF4        /* abi::kDebugExitPort */
#define SL_STACK_PAINT  0x5354414B5354414B /* launch_report.hpp kStackPaint */
#define SL2_STACK_BYTES 65536

    .section .sl2_header, "a"
    .globl sl2_header
sl2_header:                     /* abi/slb_layout.hpp Stage2Header */
    .ascii "RDBTSL21"
    .long 24                    /* header_size */
    .long sl2_entry64 - . + 12  /* entry offset (PC-relative: no run-time relocation) */
    .quad _sl2_end - . + 16     /* image size */

    .section .bss.sl2_stack, "aw", @nobits
    .balign 16
sl2_stack_bottom:
    .skip SL2_STACK_BYTES
sl2_stack_top:

    .section .text.sl2_entry, "ax"
    .code64
    .globl sl2_entry64
sl2_entry64:
    cli
    cld
    mov %rdi, %r12                      /* R12 = SLB base */
    mov %rsi, %r14                      /* R14 = boot params */
    lea sl2_header(%rip), %rbp          /* RBP = load address (the header is at link address 0) */
    cmp %rdx, %rbp                      /* stage 1 entered us where it checked us */
    jne sl2_fail
    APPLY_RELOCS %rbp, sl2_fail
    lea sl2_stack_top(%rip), %rsp
    lea sl2_stack_bottom(%rip), %rdi
    mov %rdi, %r15
    lea -64(%rsp), %rcx
    sub %rdi, %rcx
    shr $3, %rcx
    movabs $SL_STACK_PAINT, %rax
    rep stosq
    mov %r12, %rdi                      /* sl_bare_main(slb_base, boot_params_pa, relocations, stack_bottom, stack_top) */
    mov %r14, %rsi
    mov %r10, %rdx
    mov %r15, %rcx
    lea sl2_stack_top(%rip), %r8
    call sl_bare_main
1:  cli
    hlt
    jmp 1b
sl2_fail:                               /* a relocation that is not R_X86_64_RELATIVE, or a wrong base */
    lea msg_fail(%rip), %rsi
2:  lodsb
    test %al, %al
    jz 4f
    mov %al, %cl
    mov $0x3FD, %dx
3:  inb %dx, %al
    test $0x20, %al
    jz 3b
    mov %cl, %al
    mov $0x3F8, %dx
    outb %al, %dx
    jmp 2b
4:  mov $EXIT_REFUSED, %al
    outb %al, $DEBUG_EXIT_PORT
    jmp 1b

    .section .rodata.sl2_msg, "a"
    .type msg_fail, @object
msg_fail: .asciz "[sl] FATAL: stage 2 relocation not R_X86_64_RELATIVE, or entered at the wrong base\r\n"
