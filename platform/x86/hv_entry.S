/* Hypervisor image header and bare-metal entry (hv.bin). */
    .section .hv_header, "a"
    .globl hv_header
hv_header:
    .ascii "RDBTHV01"
    .long 24                    /* header_size */
    .long hv_entry64            /* entry offset (linked at 0) */
    .quad _hv_end               /* image size */

    .section .text.hv_entry, "ax"
    .code64
    .globl hv_entry64
hv_entry64:
    /* The SL passes the hand-off block in RDI once bare-metal hand-off exists. */
    call hv_bare_main
1:  cli
    hlt
    jmp 1b
