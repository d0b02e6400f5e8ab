; Guest entry (docs/guests.md): 64-bit mode, paging on (identity map of the
; first 4 GiB), CS=0x08, RSP = top of RAM, interrupts off. Calls
; guest_main(boot_info) and shuts down with its return value.
bits 64
section .text.start
global _start
extern guest_main
_start:
    and rsp, -16
    mov rdi, 0x1000          ; RD_BOOT_INFO_GPA (also in RDI by convention, not relied upon)
    call guest_main
    mov rdi, rax
    mov eax, 3               ; RD_HC_SHUTDOWN
    vmmcall
.hang:
    cli
    hlt
    jmp .hang
