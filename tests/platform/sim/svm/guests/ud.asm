; An instruction the simulated CPU does not implement (SSE) must raise #UD.
%include "common.inc"
start:
  movaps xmm0, xmm1
  mov eax, 0xBAD
  vmmcall
steps: dq start
