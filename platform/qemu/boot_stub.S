/* The QEMU boot stub (tests only; docs/skinit.md "Booting under QEMU"): a
 * multiboot v1 kernel that plays the untrusted pre-launch loader. QEMU's
 * -kernel enters it in 32-bit protected mode, paging off (Multiboot 0.6.96
 * §3.2: EAX = 0x2BADB002, EBX = the multiboot information). It switches to
 * long mode for boot_stub.cpp, which places sl.bin / hv.bin (the -initrd
 * modules) and then either re-creates the state SKINIT leaves (enter_sl) or
 * enters hv.bin directly with a synthetic boot area (enter_hv). */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010003          /* page-align modules, memory info, a.out kludge addresses */

    .section .multiboot, "a"
    .balign 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long mb_header                  /* header_addr */
    .long _stub_start                /* load_addr */
    .long _stub_load_end             /* load_end_addr */
    .long _stub_end                  /* bss_end_addr */
    .long _start                     /* entry_addr */

    .section .text.stub_entry, "ax"
    .code32
    .globl _start
_start:
    cli
    mov %ebx, %edi                   /* multiboot info */
    mov $stub_stack_top, %esp
    lgdt stub_gdtr
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    /* Identity map of the first 512 GiB with 1 GiB pages (the stub runs on -cpu EPYC). */
    mov $stub_pdpt, %eax
    or $0x3, %eax
    mov %eax, stub_pml4
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $30, %eax
    or $0x83, %eax
    mov %eax, stub_pdpt(, %ecx, 8)
    mov %ecx, %eax
    shr $2, %eax
    mov %eax, stub_pdpt + 4(, %ecx, 8)
    inc %ecx
    cmp $512, %ecx
    jb 1b
    mov %cr4, %eax
    or $(1 << 5), %eax               /* PAE */
    mov %eax, %cr4
    mov $stub_pml4, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx
    rdmsr
    or $(1 << 8), %eax               /* EFER.LME */
    wrmsr
    mov %cr0, %eax
    or $(1 << 31), %eax
    mov %eax, %cr0
    ljmp $0x18, $stub_entry64

    .code64
stub_entry64:
    mov %edi, %edi
    call stub_main                   /* never returns */
2:  cli
    hlt
    jmp 2b

/* enter_sl(slb_base): the state SKINIT leaves (AMD APM vol. 2 §15.27.5):
 * 32-bit flat protected mode, paging off, EFER = 0, CS/SS flat (0x08/0x10),
 * the other segment registers null, IF = 0, EAX = SLB base,
 * ESP = SLB base + 64 KiB, EDX = CPUID Fn0000_0001_EAX; EIP = SLB + word 0. */
    .globl enter_sl
enter_sl:
    cli
    mov %edi, %ebx
    lea 3f(%rip), %rax
    push $0x08
    push %rax
    lretq                            /* compatibility mode, 32-bit code segment */
    .code32
3:  movzwl (%ebx), %esi             /* SLB word 0: entry offset (DS is still flat here) */
    mov %cr0, %eax
    and $~(1 << 31), %eax            /* paging off: leaves long mode (EFER.LMA = 0) */
    mov %eax, %cr0
    mov $0xC0000080, %ecx
    xor %eax, %eax
    xor %edx, %edx
    wrmsr                            /* EFER = 0 */
    mov %eax, %cr4
    mov %eax, %cr3
    mov $1, %eax
    push %ebx
    cpuid
    pop %ebx
    mov %eax, %edx                   /* EDX = family/model/stepping */
    mov $0x10, %eax
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %fs
    mov %eax, %gs
    lea 0x10000(%ebx), %esp
    mov %ebx, %eax
    add %esi, %ebx
    jmp *%ebx

    .code64
/* enter_hv(entry, boot_area): 64-bit, paging on (this identity map), IF = 0, RDI = boot area. */
    .globl enter_hv
enter_hv:
    cli
    mov %rdi, %rax
    mov %rsi, %rdi
    jmp *%rax

    .section .rodata
    .balign 8
stub_gdt:
    .quad 0
    .quad 0x00CF9B000000FFFF         /* 0x08: 32-bit code */
    .quad 0x00CF93000000FFFF         /* 0x10: data */
    .quad 0x00AF9B000000FFFF         /* 0x18: 64-bit code */
stub_gdt_end:
stub_gdtr:
    .word stub_gdt_end - stub_gdt - 1
    .long stub_gdt

    .section .bss
    .balign 4096
stub_pml4: .skip 4096
stub_pdpt: .skip 4096
    .skip 16384
stub_stack_top:
