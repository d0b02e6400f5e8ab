; Probe helpers: one memory access that may fault, and a #PF handler that
; records CR2 / the error code and resumes at the helper's recovery point.
bits 64
section .bss
global last_cr2, last_err
recover_rip: resq 1
last_cr2: resq 1
last_err: resq 1

section .text
global probe_read, probe_write, isr_probe_pf

probe_read:                  ; uint64_t probe_read(uint64_t addr, uint64_t* faulted)
    lea rax, [rel .recover]
    mov [rel recover_rip], rax
    mov qword [rsi], 0
    mov rax, [rdi]
    ret
.recover:
    mov qword [rsi], 1
    xor eax, eax
    ret

probe_write:                 ; void probe_write(uint64_t addr, uint64_t value, uint64_t* faulted)
    lea rax, [rel .recover]
    mov [rel recover_rip], rax
    mov qword [rdx], 0
    mov [rdi], rsi
    ret
.recover:
    mov qword [rdx], 1
    ret

isr_probe_pf:                ; [rsp] = error code, [rsp+8] = RIP
    push rax
    mov rax, cr2
    mov [rel last_cr2], rax
    mov rax, [rsp + 8]
    mov [rel last_err], rax
    mov rax, [rel recover_rip]
    mov [rsp + 16], rax
    pop rax
    add rsp, 8
    iretq
