; HOST code (not a guest): what a hypervisor's world switch does with the real
; instructions, run by the full-system CPU. Enables SVM, sets VM_HSAVE_PA, then
; VMLOAD/VMRUN/VMSAVE the test's VMCB until the guest's HLT exit, resuming each
; exit at nRIP; counts exits, keeps the guest's RBX after each exit, and powers
; off through the debug-exit port with the exit count.
bits 64
default abs
org 0x30000
VMCB    equ 0x1000
HSAVE   equ 0x2000
RESULT  equ 0x31000          ; [0] exits [8] guest RBX at the VMMCALL exit [16] host RBX after the loop
start:
  mov ecx, 0xC0000080        ; EFER
  rdmsr
  or eax, 1 << 12            ; SVME
  wrmsr
  mov ecx, 0xC0010117        ; VM_HSAVE_PA
  mov eax, HSAVE
  xor edx, edx
  wrmsr
  xor r15, r15               ; exits
  mov rbx, 0x5151            ; the guest sees whatever the host leaves in RBX (hardware does not switch it)
.again:
  mov rax, VMCB
  clgi
  vmload
  vmrun
  vmsave
  stgi
  inc r15
  mov rcx, [VMCB + 0x70]     ; EXITCODE
  cmp rcx, 0x81              ; VMMCALL
  jne .not_vmmcall
  mov [RESULT + 8], rbx      ; the guest's RBX, still in the register after #VMEXIT
.not_vmmcall:
  cmp rcx, 0x78              ; HLT
  je .done
  mov rdx, [VMCB + 0xC8]     ; nRIP
  mov [VMCB + 0x578], rdx    ; RIP := nRIP
  jmp .again
.done:
  mov [RESULT], r15
  mov [RESULT + 16], rax     ; host RAX after #VMEXIT = the VMCB address VMRUN was given
  mov eax, r15d
  out 0xF4, al               ; power off: status (exits << 1) | 1
  cli
  hlt
