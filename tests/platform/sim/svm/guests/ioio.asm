; One IOIO exit per instruction; the host resumes at nRIP each time.
%include "common.inc"
start:
  mov dx, 0x3F8
  out 0x80, al              ; 1: OUT imm8, 1 byte
  out dx, ax                ; 2: OUT DX, 2 bytes
  in eax, dx                ; 3: IN DX, 4 bytes
  in al, 0x60               ; 4: IN imm8, 1 byte
  mov rsi, 0x6000
  mov ecx, 4
  rep outsb                 ; 5: REP OUTSB
  mov rdi, 0x6000
  insw                      ; 6: INSW
  o32 fs outsd              ; 7: OUTSD with FS override
  vmmcall
steps: dq start
