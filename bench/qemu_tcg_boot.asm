; Multiboot (v1) boot stub for running bench/cpu_work.elf — the same ELF the simulator runs —
; under qemu-system-x86_64 -accel tcg -kernel (bench/qemu_tcg.hpp). Multiboot spec 0.6.96 §3.1:
; the header with the a.out kludge (flag bit 16) tells the loader where the flat image goes, so
; the ELF64 class does not matter. The bench patches load_end/bss_end (+20/+24), the ELF's entry
; (+32) and the block count (+40). Entry (§3.2): 32-bit protected mode, paging off. The stub maps
; 1 GiB with 2 MiB pages, enters long mode, calls cpu_work(blocks), prints RAX as 16 hex digits
; on COM1 and exits QEMU through isa-debug-exit (port 0xF4).
bits 32
org 0x100000
MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00010000
mb:
    dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    dd mb                    ; header_addr
    dd mb                    ; load_addr
    dd 0                     ; load_end_addr (patched)
    dd 0                     ; bss_end_addr (patched)
    dd start32               ; entry_addr
entry64: dq 0                ; +32: cpu_work's address (patched)
blocks:  dq 0                ; +40: its argument (patched)

start32:
    cli
    mov edi, pd
    mov eax, 0x83            ; present, writable, 2 MiB
    mov ecx, 512
.map:
    mov [edi], eax
    mov dword [edi + 4], 0
    add eax, 0x200000
    add edi, 8
    loop .map
    mov dword [pdpt], pd + 3
    mov dword [pml4], pdpt + 3
    mov eax, pml4
    mov cr3, eax
    mov eax, cr4
    or eax, 0x20             ; PAE
    mov cr4, eax
    mov ecx, 0xC0000080      ; EFER.LME
    rdmsr
    or eax, 0x100
    wrmsr
    mov eax, cr0
    or eax, 0x80000001       ; PG | PE
    mov cr0, eax
    lgdt [gdtr]
    jmp 0x08:start64

bits 64
start64:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, stack_top
    mov rdi, [blocks]
    call [entry64]
    mov rbx, rax
    mov ecx, 16
    mov dx, 0x3F8
.hex:
    rol rbx, 4
    mov eax, ebx
    and eax, 15
    mov al, [hexdigits + rax]
    out dx, al
    loop .hex
    mov al, 10
    out dx, al
    mov dx, 0xF4             ; isa-debug-exit: QEMU exits with status (0 << 1) | 1
    xor eax, eax
    out dx, al
.halt:
    hlt
    jmp .halt

hexdigits: db "0123456789abcdef"
align 8
gdt: dq 0, 0x00AF9A000000FFFF, 0x00CF92000000FFFF
gdtr: dw 23
      dq gdt
align 4096
pml4: times 4096 db 0
pdpt: times 4096 db 0
pd:   times 4096 db 0
stack: times 16384 db 0
stack_top:
