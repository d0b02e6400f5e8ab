; A secure-loader-style entry: starts in the exact SKINIT state (32-bit flat
; protected mode, paging off, EAX = SLB base, ESP = SLB base + 64 KiB), loads
; its own GDT, reloads the data segments, builds 4-level page tables with
; 1 GiB pages (identity, 0-4 GiB), enables PAE, LME/NXE, paging (compatibility
; mode), far-jumps into a 64-bit code segment and calls work64(SEED) there.
; Position independent, like the real SL: every address comes from EAX.
; -DDIRECT_FAR: "jmp 0x18:long64" (ptr16:32, needs org = load address)
; otherwise "jmp far [mem]" (m16:32).
%ifndef ORG
%define ORG 0
%endif
SEED equ 0x0123456789ABCDEF
PML4 equ 0x4000           ; offsets inside the SLB
PDPT equ 0x5000
bits 32
org ORG
slb_header:
  dw entry - ORG          ; SLB word 0: entry offset
  dw slb_end - ORG        ; SLB word 1: length
  dd 0
  dd after_call - ORG     ; +8: offsets for the test
  dd long64 - ORG         ; +12
entry:
  mov ebp, eax            ; SLB base
  call .here              ; EIP-relative base the other way round: call/pop
.here:
  pop ebx
  sub ebx, .here - ORG
  cmp ebx, ebp
  jne fail
  lea ecx, [ebp + gdt - ORG]
  mov [ebp + gdt_ptr + 2 - ORG], ecx
  lgdt [ebp + gdt_ptr - ORG]
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov fs, ax
  mov gs, ax
  mov ss, ax
  ; zero PML4 and PDPT (2 pages) with REP STOSD
  lea edi, [ebp + PML4]
  xor eax, eax
  mov ecx, 2048
  cld
  rep stosd
  lea eax, [ebp + PDPT + 3]           ; P | RW
  mov [ebp + PML4], eax
  lea edi, [ebp + PDPT]
  mov eax, 0x83                       ; P | RW | PS: 1 GiB page
  mov ecx, 4
.fill:
  mov [edi], eax
  mov dword [edi + 4], 0
  add eax, 0x40000000
  add edi, 8
  loop .fill
  mov eax, cr4
  or eax, 1 << 5                      ; PAE
  mov cr4, eax
  lea eax, [ebp + PML4]
  mov cr3, eax
  mov ecx, 0xC0000080                 ; EFER
  rdmsr
  or eax, (1 << 8) | (1 << 11)        ; LME | NXE
  wrmsr
  mov eax, cr0
  or eax, 1 << 31                     ; PG: long mode active, compatibility mode
  mov cr0, eax
  push ebp                            ; compatibility mode: 32-bit stack ops still
  pop esi
%ifdef DIRECT_FAR
  jmp 0x18:long64
%else
  lea eax, [ebp + long64 - ORG]
  mov [ebp + far_ptr - ORG], eax
  mov word [ebp + far_ptr + 4 - ORG], 0x18
  jmp far [ebp + far_ptr - ORG]
%endif
fail:
  mov eax, 0xBAD
  hlt

bits 64
long64:
  mov rdi, SEED
  call work64
after_call:
  mov rbx, rsp
  hlt
%include "work64.inc"

align 8
gdt:
  dq 0
  dq 0x00CF9A000000FFFF               ; 0x08: 32-bit code, flat (A clear: set by the load)
  dq 0x00CF92000000FFFF               ; 0x10: data, flat
  dq 0x00AF9A000000FFFF               ; 0x18: 64-bit code
gdt_end:
gdt_ptr:
  dw gdt_end - gdt - 1
  dd 0
far_ptr:
  dd 0
  dw 0
slb_end:
