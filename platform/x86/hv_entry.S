/* Hypervisor image header and bare-metal entry (hv.bin; docs/hypervisor.md).
 * Entered by the SL (hv_handoff.cpp) or the QEMU boot stub in 64-bit mode,
 * interrupts off, on the caller's identity map, with RDI = the boot area
 * (abi/bare_hv_entry.hpp). Before any C++: check the area, relocate the image
 * (position independent, linked at 0), build our own identity map, switch to
 * our stack, load our GDT; hv_main.cpp then loads the IDT first thing. */
#include "abi/bare_hv_entry.hpp"
#include "platform/x86/relocate.inc"

#define SEL_CODE64      0x08
#define SEL_DATA        0x10
#define EXIT_HV_FAILED  2           /* abi::ExitStatus::hv_failed */
#define DEBUG_EXIT_PORT 0xF4        /* abi::kDebugExitPort */

    .section .hv_header, "a"
    .globl hv_header
hv_header:
    .ascii "RDBTHV01"
    .long 24                    /* header_size */
    .long hv_entry64 - . + 12   /* entry offset from the image base (PC-relative: no run-time relocation) */
    .quad _hv_end - . + 16      /* image size */

    .section .text.hv_entry, "ax"
    .code64
    .globl hv_entry64
hv_entry64:
    cli
    cld
    mov %rdi, %r12                      /* R12 = boot area (BareHvEntry) */
    movabs $REDOUBT_BARE_HV_MAGIC, %rax
    cmp %rax, REDOUBT_BARE_OFF_MAGIC(%r12)
    lea msg_magic(%rip), %rsi
    jne hv_fail_early
    lea hv_header(%rip), %rbp           /* RBP = load address (the header is at link address 0) */
    APPLY_RELOCS %rbp, hv_reloc_fail
    mov %r10, %r13                      /* R13 = relocations applied */

    /* Our own identity map of the first 512 GiB with 1 GiB pages, in the boot
     * area (AMD APM vol. 2 §5.3: PML4E -> PDPTE with PS = 1). */
    mov REDOUBT_BARE_OFF_PAGE_TABLES(%r12), %rdi
    mov %rdi, %rdx                      /* RDX = PML4 */
    xor %eax, %eax
    mov $(8192 / 8), %ecx
    rep stosq
    lea 4096(%rdx), %rdi                /* RDI = PDPT */
    lea 0x3(%rdi), %rax                 /* present | writable */
    mov %rax, (%rdx)
    xor %ecx, %ecx
    mov $0x83, %eax                     /* present | writable | PS, at 0 GiB */
1:  mov %rax, (%rdi, %rcx, 8)
    add $0x40000000, %rax
    inc %ecx
    cmp $512, %ecx
    jb 1b
    mov %rdx, %cr3                      /* also drops the caller's TLB entries */

    mov REDOUBT_BARE_OFF_STACK_TOP(%r12), %rsp
    and $~0xF, %rsp

    /* Our GDT (accessed bits preset: the CPU never writes into the image). */
    lea hv_gdt(%rip), %rax
    push %rax
    pushw $(hv_gdt_end - hv_gdt - 1)
    lgdt (%rsp)
    add $10, %rsp
    mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    lea 2f(%rip), %rax
    push $SEL_CODE64
    push %rax
    lretq                               /* reload CS from our GDT */
2:
    mov %r12, %rdi                      /* hv_bare_main(boot area, relocations) */
    mov %r13, %rsi
    call hv_bare_main
3:  cli
    hlt
    jmp 3b

hv_reloc_fail:
    lea msg_reloc(%rip), %rsi
/* RSI = message: say why on COM1, power off with hv_failed, stop. */
hv_fail_early:
4:  lodsb
    test %al, %al
    jz 6f
    mov %al, %cl
    mov $0x3FD, %dx                     /* 16550 LSR: bit 5 = THR empty */
5:  inb %dx, %al
    test $0x20, %al
    jz 5b
    mov %cl, %al
    mov $0x3F8, %dx
    outb %al, %dx
    jmp 4b
6:  mov $EXIT_HV_FAILED, %al
    outb %al, $DEBUG_EXIT_PORT
    jmp 3b

    .type msg_magic, @object
msg_magic: .asciz "[hv] FATAL: RDI does not point at a bare-metal boot area (magic RDBTHE01)\r\n"
    .type msg_reloc, @object
msg_reloc: .asciz "[hv] FATAL: hv.bin holds a relocation other than R_X86_64_RELATIVE\r\n"

    .balign 8
    .type hv_gdt, @object
hv_gdt:
    .quad 0
    .quad 0x00AF9B000000FFFF            /* 0x08: 64-bit code (L = 1), accessed */
    .quad 0x00CF93000000FFFF            /* 0x10: data, accessed */
hv_gdt_end:
