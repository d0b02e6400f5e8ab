/* Secure loader image layout and SKINIT entry (docs/skinit.md).
 * AMD APM vol. 2 §15.27.4: SLB word 0 = entry offset, word 1 = measured length.
 * §15.27.5: at entry the CPU is in 32-bit flat protected mode, paging off,
 * GIF = 0, IF = 0, EAX = SLB base, ESP = SLB base + 64 KiB; only CS and SS are
 * valid segments. The image is position independent (linked at 0, self-
 * relocating): the SLB may be at any 64 KiB-aligned address.
 *
 * SLB space (64 KiB, all DEV-protected by SKINIT):
 *   [0, length)                    the measured image (code, data, zeroed bss)
 *   [align4K(length), +8 KiB)      PML4 + PDPT built here (identity, 1 GiB pages)
 *   [.. , 0xFFF0)                  the SL stack (grows down)
 *   [0xFFF8, 0x10000)              the loader's boot-params pointer (not measured)
 * sl.ld asserts that this fits. */
#include "platform/x86/relocate.inc"

#define SLB_STACK_TOP   0xFFF0      /* 16-byte aligned, below the boot-params pointer */
#define SEL_CODE32      0x08
#define SEL_DATA        0x10
#define SEL_CODE64      0x18
#define EXIT_REFUSED    1           /* abi::ExitStatus::launch_refused */
#define DEBUG_EXIT_PORT 0xF4        /* abi::kDebugExitPort */
#define SL_STACK_PAINT  0x5354414B5354414B /* launch_report.hpp kStackPaint */

    .section .slb_header, "a"
    .globl slb_header
/* Offsets from the SLB base as "symbol - . + field offset": PC-relative, so
 * the link resolves them and a PIE needs no run-time relocation for them. */
slb_header:
    .word sl_entry32 - .        /* entry offset */
    .word _slb_end - . + 2      /* measured length */
    .ascii "RDBTSLB1"           /* Redoubt SLB magic */
    .word 1                     /* header version */
    .word slb_key_slot - . + 14 /* key slot offset */
    .word slb_owner_slot - . + 16 /* owner key slot offset (launch policies) */
    .word slb_stage2_pin - . + 18 /* stage-2 pin offset (docs/skinit.md "Two stages") */

/* Intel TXT: the same image is the MLE of GETSEC[SENTER] (docs/intel.md "The SL as MLE").
 * MLE DG 315168 §2.1 Table 1, the MLE header, at SLB offset 20 (right after the SLB header;
 * the loader names it in OsSinitData.MLEHeaderBase). Offsets are from the MLE base = the SLB
 * base; the measured MLE is [0, _slb_end): the bytes SKINIT measures. */
    .balign 4
    .globl sl_mle_header
sl_mle_header:
    .byte 0x5a, 0xac, 0x82, 0x90, 0x6f, 0x47, 0xa7, 0x74   /* GUID 5aac8290-6f47-a774- */
    .byte 0x0f, 0x5c, 0x55, 0xa2, 0xcb, 0x51, 0xb6, 0x42   /* 0f5c-55a2cb51b642 */
    .long 0x34                      /* header length */
    .long 0x00020001                /* version 2.1 */
    .long sl_mle_entry - slb_header /* entry point */
    .long 0                         /* first valid page */
    .long 0                         /* MLE start */
    .long _slb_end - . + 56         /* MLE end = the measured length (field at offset 20 + 0x24) */
    .long 0x200                     /* capabilities: TCG 2.0 event log (MLE DG Table 2 bit 9) */
    .long 0, 0                      /* command line start, end: none */
/* MLE DG §2.3: SINIT starts the MLE in 32-bit protected mode, paging off, flat CS/DS/SS, IF = 0,
 * with EBX = the entry point's address. Recreate SKINIT's state (EAX = SLB base, ESP = SLB +
 * 64 KiB: the boot-params pointer is read at ESP - 8) and enter the common path. */
    .code32
    .globl sl_mle_entry
sl_mle_entry:
    lea (slb_header - sl_mle_entry)(%ebx), %eax
    lea 0x10000(%eax), %esp
    jmp sl_entry32
    .code64

    .section .slb_key, "a"
    .balign 16
    .globl slb_key_slot
slb_key_slot:                   /* SlbKeySlot, filled by `redoubt slb seal` */
    .ascii "RDBTKEY1"
    .long 0                     /* cose_alg */
    .word 0                     /* sec1_len: 0 = not sealed */
    .word 0
    .fill 97 + 15, 1, 0
    .globl slb_owner_slot
slb_owner_slot:                 /* the platform owner's key (launch policies) */
    .ascii "RDBTOWN1"
    .long 0
    .word 0
    .word 0
    .fill 97 + 15, 1, 0

    /* abi/slb_layout.hpp SlbStage2Pin: size and SHA-256 of sl2.bin, written into
     * sl.bin by scripts/pin_stage2.sh once stage 2 is linked. Measured by SKINIT. */
    .section .slb_stage2_pin, "a"
    .balign 16
    .globl slb_stage2_pin
    .type slb_stage2_pin, @object
slb_stage2_pin:
    .ascii "RDBTS2P1"
    .long 0                     /* image_size */
    .long 0                     /* reserved */
    .fill 32, 1, 0              /* sha256 */
    .size slb_stage2_pin, . - slb_stage2_pin

    /* Everything the 32-bit code touches lives in this one section, so every
     * offset is an assemble-time difference from label 1 (no relocation). */
    .section .text.sl_entry, "ax"
    .code32
    .globl sl_entry32
sl_entry32:
    mov %eax, %ebp                      /* EBP = SLB base (EAX at SKINIT) */
    mov -8(%esp), %esi                  /* boot-params pointer at SLB+0xFFF8, read before */
    mov -4(%esp), %edi                  /* the first push: ESP points just above it (SS) */
    lea SLB_STACK_TOP(%ebp), %esp
    push %edi                           /* keep it as a u64 at SLB + SLB_STACK_TOP - 8 */
    push %esi
    call 1f                             /* EBX = run-time address of label 1 */
1:  pop %ebx

    /* GDT: its base is computed from where the SLB is (lgdt takes a linear address). */
    lea (sl_gdt - 1b)(%ebx), %eax
    push %eax
    pushw $(sl_gdt_end - sl_gdt - 1)
    lgdt (%esp)                         /* SS-relative: DS is not valid yet */
    add $6, %esp
    mov $SEL_DATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    /* CS keeps SKINIT's flat 32-bit selector until the far return below. */

    /* CPU features long mode needs (AMD APM vol. 3, CPUID Fn8000_0001_EDX). */
    mov $0x80000000, %eax
    push %ebx                           /* CPUID writes EBX */
    cpuid
    pop %ebx
    cmp $0x80000001, %eax
    lea (msg_no_ext - 1b)(%ebx), %esi
    jb sl_fail32
    mov $0x80000001, %eax
    push %ebx                           /* CPUID writes EBX */
    cpuid
    pop %ebx
    lea (msg_no_lm - 1b)(%ebx), %esi
    bt $29, %edx                        /* LM */
    jnc sl_fail32
    lea (msg_no_1g - 1b)(%ebx), %esi
    bt $26, %edx                        /* Page1GB */
    jnc sl_fail32
    lea (msg_no_nx - 1b)(%ebx), %esi
    bt $20, %edx                        /* NX: EFER.NXE below would #GP without it */
    jnc sl_fail32

    /* Page tables right after the measured image: length = SLB word 1. */
    movzwl 2(%ebp), %edi
    add $0xFFF, %edi
    and $0xF000, %edi
    add %ebp, %edi                      /* EDI = PML4, EDI + 4 KiB = PDPT */
    mov %edi, %edx
    xor %eax, %eax
    mov $(8192 / 4), %ecx
    cld
    rep stosl                           /* the loader's leftovers are not page tables */
    lea 4096(%edx), %edi
    lea 0x3(%edi), %eax                 /* PML4[0] = PDPT | RW | P (APM vol. 2 §5.3.3) */
    mov %eax, (%edx)
    xor %ecx, %ecx
2:  mov %ecx, %eax                      /* PDPT[i] = i GiB | PS | RW | P (§5.3.4, 1 GiB pages) */
    shl $30, %eax
    or $0x83, %eax
    mov %eax, (%edi, %ecx, 8)
    mov %ecx, %eax
    shr $2, %eax
    mov %eax, 4(%edi, %ecx, 8)
    inc %ecx
    cmp $512, %ecx
    jb 2b

    /* Long mode (APM vol. 2 §14.6.1): PAE, CR3, EFER.LME, then CR0.PG. */
    mov %cr4, %eax
    or $((1 << 5) | (1 << 9) | (1 << 10)), %eax   /* PAE, OSFXSR, OSXMMEXCPT (BearSSL uses SSE: docs/skinit.md) */
    mov %eax, %cr4
    mov %edx, %cr3
    mov $0xC0000080, %ecx               /* EFER */
    rdmsr
    or $((1 << 8) | (1 << 11)), %eax    /* LME | NXE; SVME (bit 12) is kept as it was */
    wrmsr
    mov %cr0, %eax
    and $~((1 << 30) | (1 << 29) | (1 << 3) | (1 << 2)), %eax  /* CD, NW, TS, EM off */
    or $((1 << 31) | (1 << 16) | (1 << 5) | (1 << 1) | 1), %eax /* PG, WP, NE, MP, PE */
    mov %eax, %cr0                      /* now in compatibility mode: EFER.LMA = 1 */
    lea (sl_entry64 - 1b)(%ebx), %eax
    push $SEL_CODE64
    push %eax
    lret                                /* far return into the 64-bit code segment */

/* ESI = message (offset already applied): say why on COM1, power off, stop. */
sl_fail32:
3:  movb (%esi), %al
    test %al, %al
    jz 5f
    mov $0x3FD, %dx                     /* 16550 LSR: bit 5 = THR empty */
4:  inb %dx, %al
    test $0x20, %al
    jz 4b
    movb (%esi), %al
    mov $0x3F8, %dx
    outb %al, %dx
    inc %esi
    jmp 3b
5:  mov $EXIT_REFUSED, %al
    outb %al, $DEBUG_EXIT_PORT
6:  cli
    hlt
    jmp 6b

    .balign 8
    .type sl_gdt, @object
sl_gdt:                                 /* accessed bits preset: the CPU never writes the measured GDT */
    .quad 0
    .quad 0x00CF9B000000FFFF            /* 0x08: 32-bit code, flat 4 GiB */
    .quad 0x00CF93000000FFFF            /* 0x10: data, flat 4 GiB */
    .quad 0x00AF9B000000FFFF            /* 0x18: 64-bit code (L = 1, D = 0) */
sl_gdt_end:

    .type msg_no_ext, @object           /* data: scripts/check_image.sh skips OBJECT symbols */
msg_no_ext: .asciz "[sl] FATAL: no CPUID 80000001h\r\n"
    .type msg_no_lm, @object
msg_no_lm:  .asciz "[sl] FATAL: no long mode (80000001h EDX[29])\r\n"
    .type msg_no_1g, @object
msg_no_1g:  .asciz "[sl] FATAL: no 1 GiB pages (80000001h EDX[26] Page1GB)\r\n"
    .type msg_no_nx, @object
msg_no_nx:  .asciz "[sl] FATAL: no NX (80000001h EDX[20])\r\n"
    .type msg_reloc, @object
msg_reloc:  .asciz "[sl] FATAL: relocation not R_X86_64_RELATIVE, or no room for the measured copy\r\n"

    .code64
sl_entry64:
    /* The upper halves of the 64-bit registers are undefined after the mode switch. */
    mov %ebp, %ebp                      /* RBP = SLB base */
    mov -8 + SLB_STACK_TOP(%rbp), %r12  /* R12 = boot-params pointer, pushed above */
    lea SLB_STACK_TOP(%rbp), %rsp
    /* Keep SLB[0:length] as SKINIT measured it (the DRTM log hashes it): copy it
     * after the page tables before the first write into the image. */
    movzwl 2(%rbp), %ecx
    lea 0xFFF(%rcx), %edi
    and $0xF000, %edi
    add $8192, %edi                     /* abi/slb_layout.hpp slb_measured_copy_offset */
    lea (%rdi, %rcx), %eax
    cmp $(SLB_STACK_TOP - 4096), %eax   /* the copy and a 4 KiB stack must fit */
    ja sl_reloc_fail
    add %rbp, %rdi
    mov %rbp, %rsi
    rep movsb                           /* RDI = end of the copy */
    APPLY_RELOCS %rbp, sl_reloc_fail
    /* Paint the stack below us with a pattern, so the SL can report its
     * high-water mark and detect an overflow into the page tables. */
    movzwl 2(%rbp), %ecx
    lea 0xFFF(%rcx), %edi
    and $0xF000, %edi
    lea 8192 + 15(%rdi, %rcx), %edi
    and $~15, %edi
    add %rbp, %rdi                      /* RDI = stack bottom = end of the measured copy, 16-aligned */
    mov %rdi, %r13
    lea -64(%rsp), %rcx
    sub %rdi, %rcx
    shr $3, %rcx
    movabs $SL_STACK_PAINT, %rax
    rep stosq
    mov %rbp, %rdi                      /* sl_stage1_main(slb_base, boot_params_pa, relocations, stack_bottom) */
    mov %r12, %rsi
    mov %r10, %rdx
    mov %r13, %rcx
    call sl_stage1_main
7:  cli
    hlt
    jmp 7b
sl_reloc_fail:
    lea msg_reloc(%rip), %rsi
8:  lodsb
    test %al, %al
    jz 10f
    mov %al, %cl
    mov $0x3FD, %dx
9:  inb %dx, %al
    test $0x20, %al
    jz 9b
    mov %cl, %al
    mov $0x3F8, %dx
    outb %al, %dx
    jmp 8b
10: mov $EXIT_REFUSED, %al
    outb %al, $DEBUG_EXIT_PORT
    jmp 7b
