; hvattack helpers: registers a C compiler cannot name (DRn, CR2, CR8, the
; x87/SSE image, every GPR around a yield), MSR accesses that may #GP, the jump
; into 32-bit code, and the fault handler that resumes at a recovery point.
bits 64
section .bss
global fault_vector
recover_rip: resq 1
fault_vector: resq 1
gpr_out: resq 1

section .text
global set_dr, get_dr, set_dr67, get_dr67, set_cr8, get_cr8, set_cr2, get_cr2
global get_tr, get_ldtr, enable_sse, fx_restore, fx_save, msr_read, msr_write, gpr_probe, isr_recover, isr_iret, enter_compat

set_dr:                      ; void set_dr(const uint64_t d[4])
    mov rax, [rdi]
    mov dr0, rax
    mov rax, [rdi + 8]
    mov dr1, rax
    mov rax, [rdi + 16]
    mov dr2, rax
    mov rax, [rdi + 24]
    mov dr3, rax
    ret
get_dr:                      ; void get_dr(uint64_t d[4])
    mov rax, dr0
    mov [rdi], rax
    mov rax, dr1
    mov [rdi + 8], rax
    mov rax, dr2
    mov [rdi + 16], rax
    mov rax, dr3
    mov [rdi + 24], rax
    ret
set_dr67:                    ; void set_dr67(uint64_t dr6, uint64_t dr7)
    mov dr6, rdi
    mov dr7, rsi
    ret
get_dr67:                    ; void get_dr67(uint64_t* dr6, uint64_t* dr7)
    mov rax, dr6
    mov [rdi], rax
    mov rax, dr7
    mov [rsi], rax
    ret
set_cr8:
    mov cr8, rdi
    ret
get_cr8:
    mov rax, cr8
    ret
set_cr2:
    mov cr2, rdi
    ret
get_cr2:
    mov rax, cr2
    ret
get_tr:                      ; STR (zero-extended)
    xor eax, eax
    str ax
    ret
get_ldtr:                    ; SLDT
    xor eax, eax
    sldt ax
    ret
enable_sse:                  ; CR4.OSFXSR | OSXMMEXCPT (APM vol. 2 §11.5.4)
    mov rax, cr4
    or rax, 0x600
    mov cr4, rax
    ret
fx_restore:                  ; void fx_restore(const void* img512)
    fxrstor64 [rdi]
    ret
fx_save:                     ; void fx_save(void* img512)
    fxsave64 [rdi]
    ret

msr_read:                    ; uint64_t msr_read(uint32_t msr, uint64_t* out): 0 or the fault vector + 1
    lea rax, [rel .recover]
    mov [rel recover_rip], rax
    mov qword [rel fault_vector], 0
    mov ecx, edi
    rdmsr
    shl rdx, 32
    mov eax, eax
    or rax, rdx
    mov [rsi], rax
    xor eax, eax
    ret
.recover:
    mov rax, [rel fault_vector]
    ret

msr_write:                   ; uint64_t msr_write(uint32_t msr, uint64_t value): 0 or the fault vector + 1
    lea rax, [rel .recover]
    mov [rel recover_rip], rax
    mov qword [rel fault_vector], 0
    mov ecx, edi
    mov rax, rsi
    mov rdx, rsi
    shr rdx, 32
    wrmsr
    xor eax, eax
    ret
.recover:
    mov rax, [rel fault_vector]
    ret

isr_recover:                 ; #GP / #UD with or without error code: [rsp] = error code (#GP)
    mov qword [rel fault_vector], 14   ; #GP + 1 (13 + 1)
    add rsp, 8               ; drop the error code
    push rax
    mov rax, [rel recover_rip]
    mov [rsp + 8], rax
    pop rax
    iretq

isr_iret:                    ; the storm's timer vector: nothing to do
    iretq

; uint64_t gpr_probe(uint64_t base, uint64_t out[16]): every GPR but RSP = base + its
; encoding (RAX = the yield hypercall), VMMCALL yield, then all sixteen stored in out[]
; (RAX = the hypercall's result). Whoever runs in between must not change one of them.
gpr_probe:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov [rel gpr_out], rsi
    mov rax, rdi
    lea rcx, [rax + 1]
    lea rdx, [rax + 2]
    lea rbx, [rax + 3]
    lea rbp, [rax + 5]
    lea rsi, [rax + 6]
    lea r8, [rax + 8]
    lea r9, [rax + 9]
    lea r10, [rax + 10]
    lea r11, [rax + 11]
    lea r12, [rax + 12]
    lea r13, [rax + 13]
    lea r14, [rax + 14]
    lea r15, [rax + 15]
    lea rdi, [rax + 7]
    mov eax, 2               ; RD_HC_YIELD
    vmmcall
    push rdi
    mov rdi, [rel gpr_out]
    mov [rdi], rax
    mov [rdi + 8], rcx
    mov [rdi + 16], rdx
    mov [rdi + 24], rbx
    mov [rdi + 32], rsp
    mov [rdi + 40], rbp
    mov [rdi + 48], rsi
    pop rax
    mov [rdi + 56], rax
    mov [rdi + 64], r8
    mov [rdi + 72], r9
    mov [rdi + 80], r10
    mov [rdi + 88], r11
    mov [rdi + 96], r12
    mov [rdi + 104], r13
    mov [rdi + 112], r14
    mov [rdi + 120], r15
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret

; void enter_compat(uint64_t code32_sel, uint64_t data_sel): IRETQ into the 32-bit code
; below (compatibility mode, APM vol. 2 §2.1.3). It prints "32\n", makes a CPUID exit
; (so the hypervisor resumes it with CS.L = 0) and shuts down with exit code 32.
enter_compat:
    mov rax, rsp
    push rsi                 ; SS
    push rax                 ; RSP
    pushfq
    push rdi                 ; CS: the 32-bit code segment
    lea rax, [rel compat_code]
    push rax                 ; RIP (< 4 GiB: the image is at 1 MiB)
    iretq
bits 32
compat_code:
    mov dx, 0x3F8
    mov al, '3'
    out dx, al
    mov al, '2'
    out dx, al
    mov al, 10
    out dx, al
    xor eax, eax
    cpuid
    mov eax, 3               ; RD_HC_SHUTDOWN
    mov edi, 32
    vmmcall
.hang:
    jmp .hang
