%include "common.inc"
start:
  mov rax, [0x40000000]     ; the guest PT for this VA is not in the nested tables -> #NPF (walk)
  vmmcall
step2:
  mov qword [0x40201000], 7 ; guest maps it to gPA 0x900000, not in the nested tables -> #NPF (final, write)
  vmmcall
steps: dq start, step2
