; Interrupt entry stubs for the mmu guest: #PF (vector 14, with error code)
; and the timer vector. They save the caller-saved registers and call C.
bits 64
section .text
global isr_pf, isr_timer
extern pf_handler, timer_handler

%macro PUSH_SCRATCH 0
    push rax
    push rcx
    push rdx
    push rsi
    push rdi
    push r8
    push r9
    push r10
    push r11
%endmacro
%macro POP_SCRATCH 0
    pop r11
    pop r10
    pop r9
    pop r8
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rax
%endmacro

isr_pf:                      ; [rsp] = error code, then RIP, CS, RFLAGS, RSP, SS
    PUSH_SCRATCH
    mov rdi, [rsp + 72]      ; error code
    mov rsi, [rsp + 80]      ; faulting RIP
    mov rdx, cr2
    mov rbp, rsp
    and rsp, -16
    push rbp
    push rbp
    call pf_handler
    pop rbp
    mov rsp, rbp
    POP_SCRATCH
    add rsp, 8
    iretq

isr_timer:
    PUSH_SCRATCH
    push rbp
    mov rbp, rsp
    and rsp, -16
    call timer_handler
    mov rsp, rbp
    pop rbp
    POP_SCRATCH
    iretq
