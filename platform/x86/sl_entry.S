/* Secure loader image layout and SKINIT entry.
 * AMD APM vol. 2 §15.27.4: SLB word 0 = entry offset, word 1 = measured length.
 * §15.27.5: at entry the CPU is in 32-bit flat protected mode, paging off,
 * GIF = 0, EAX = SLB base, ESP = SLB base + 64 KiB.
 * The image is linked at 0 (offsets == addresses); sl.ld asserts the size. */

    .section .slb_header, "a"
    .globl slb_header
slb_header:
    .word sl_entry32            /* entry offset (linked at 0) */
    .word _slb_end              /* measured length */
    .ascii "RDBTSLB1"           /* Redoubt SLB magic */
    .word 1                     /* header version */
    .word slb_key_slot          /* key slot offset */
    .word slb_owner_slot        /* owner key slot offset (launch policies) */
    .word 0                     /* reserved */

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

    .section .text.sl_entry, "ax"
    .code32
    .globl sl_entry32
sl_entry32:
    /* Not yet: GDT, long mode and a call to sl_bare_main(EAX) (QEMU issue).
     * Until then say so on COM1 and halt — never continue silently. */
    mov %eax, %ebx
    lea msg(%ebx), %esi                  /* EAX = SLB base; msg is an SLB offset */
1:  movb (%esi), %al
    test %al, %al
    jz 3f
    mov $0x3FD, %dx                      /* LSR */
2:  inb %dx, %al
    test $0x20, %al
    jz 2b
    movb (%esi), %al
    mov $0x3F8, %dx
    outb %al, %dx
    inc %esi
    jmp 1b
3:  cli
    hlt
    jmp 3b
msg:
    .asciz "Redoubt SL: long-mode entry from SKINIT is not implemented yet (QEMU issue); halting\r\n"

    /* Keep the 64-bit loader in the image so the SLB holds (and measures) it. */
    .section .slb_keep, "a"
    .balign 8
    .quad sl_bare_main
    .code64
