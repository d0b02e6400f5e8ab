; The holes guest's machine code (docs/virtualization-holes.md "A real deprivileged guest kernel"):
;   kernel_probe      the "guest kernel": loads its own GDT/IDT/TR, sets CR0.TS, then runs the
;                     sensitive instructions and stores what it observes (struct obs, holes.c);
;   run_deprivileged  the in-guest monitor (CPL 0) runs kernel_probe at CPL 3 (IRETQ to CS 0x23);
;   isr_gp            #GP from the deprivileged kernel: monitor_gp (C) emulates the instruction;
;   isr_done          INT 0x80 (DPL 3 gate): the kernel finished, back to the monitor;
;   isr_abort         any other exception: back to the monitor with failure.
bits 64
section .text
global kernel_probe, run_deprivileged, isr_gp, isr_done, isr_abort, user_entry
global probe_obs_ptr, probe_tables_ptr
extern monitor_gp

KERNEL_TSS equ 0x28          ; the kernel's TR selector in its own GDT (holes.c)

; void kernel_probe(struct obs* o /* rdi */, const struct ktables* t /* rsi */)
; struct ktables: gdtr (10 bytes) at +0, idtr (10 bytes) at +16. Offsets into struct obs: holes.c.
kernel_probe:
    push rbx
    lgdt [rsi]               ; 0F 01 16   privileged: #GP at CPL 3 (emulated)
    add rsi, 16
    lidt [rsi]               ; 0F 01 1E
    mov ax, KERNEL_TSS
    ltr ax                   ; 0F 00 D8
    mov rax, cr0             ; 0F 20 C0
    or rax, 8                ; CR0.TS: the kernel's own CR0 now differs from the monitor's
    mov cr0, rax             ; 0F 22 C0
    ; ---- the sensitive instructions ----
    sgdt [rdi + 0]
    sidt [rdi + 16]
    sldt word [rdi + 32]
    str word [rdi + 40]
    smsw rax
    mov [rdi + 48], rax
    mov rax, cr0             ; privileged: the trap-and-emulate reference for SMSW
    mov [rdi + 56], rax
    cli                      ; privileged (CPL > IOPL): #GP, emulated as virtual IF = 0
    pushfq                   ; unprivileged: the real IF
    pop rax
    mov [rdi + 64], rax
    sti                      ; privileged: virtual IF = 1
    pushfq
    and qword [rsp], ~0x200
    popfq                    ; IF = 0 requested: at CPL 3 > IOPL silently ignored, no #GP
    pushfq
    pop rax
    mov [rdi + 72], rax
    mov ecx, 0x08            ; the kernel's code selector (DPL 0)
    mov rax, 0x1111111111111111
    lar rax, cx
    mov [rdi + 80], rax
    setz byte [rdi + 88]
    mov ecx, 0x10            ; the kernel's data selector (DPL 0)
    mov rax, 0x1111111111111111
    lsl rax, cx
    mov [rdi + 96], rax
    setz byte [rdi + 89]
    verr cx
    setz byte [rdi + 90]
    verw cx
    setz byte [rdi + 91]
    mov ax, cs               ; CS.RPL = CPL
    movzx eax, ax
    mov [rdi + 104], rax
    xor eax, eax
    xor ecx, ecx
    cpuid                    ; leaf 0: highest leaf and vendor (the hypervisor's answer either way)
    mov [rdi + 112], eax
    mov [rdi + 116], ebx
    mov [rdi + 120], edx
    mov [rdi + 124], ecx
    pop rbx
    ret

; CPL 3 entry of the deprivileged kernel: kernel_probe(probe_obs_ptr, probe_tables_ptr), then INT 0x80.
user_entry:
    mov rdi, [rel probe_obs_ptr]
    mov rsi, [rel probe_tables_ptr]
    call kernel_probe
    int 0x80
.hang:
    jmp .hang

; int run_deprivileged(uint64_t rip /* rdi */, uint64_t rsp /* rsi */): 0 = INT 0x80, 1 = aborted.
run_deprivileged:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    mov [rel monitor_rsp], rsp
    push 0x1B                ; SS: data DPL 3
    push rsi                 ; RSP
    push 0x202               ; RFLAGS: IF = 1, IOPL = 0 (CLI/STI fault, POPF ignores IF)
    push 0x23                ; CS: 64-bit code DPL 3
    push rdi                 ; RIP
    iretq

back_to_monitor:             ; eax = result
    mov rsp, [rel monitor_rsp]
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret

isr_done:
    xor eax, eax
    jmp back_to_monitor

isr_abort:
    mov eax, 1
    jmp back_to_monitor

; #GP: [rsp] = error code, RIP, CS, RFLAGS, RSP, SS. The frame for monitor_gp: gpr[16] by
; register number (slot 4 = RSP unused), then error code, RIP, CS, RFLAGS, RSP, SS.
isr_gp:
    push r15
    push r14
    push r13
    push r12
    push r11
    push r10
    push r9
    push r8
    push rdi
    push rsi
    push rbp
    push 0                   ; RSP slot
    push rbx
    push rdx
    push rcx
    push rax
    mov rdi, rsp
    call monitor_gp          ; 16 pushes + the CPU's 6 qwords: RSP stays 16-byte aligned
    test eax, eax
    jnz isr_abort
    pop rax
    pop rcx
    pop rdx
    pop rbx
    add rsp, 8
    pop rbp
    pop rsi
    pop rdi
    pop r8
    pop r9
    pop r10
    pop r11
    pop r12
    pop r13
    pop r14
    pop r15
    add rsp, 8               ; error code
    iretq

section .data
probe_obs_ptr: dq 0
probe_tables_ptr: dq 0
monitor_rsp: dq 0
