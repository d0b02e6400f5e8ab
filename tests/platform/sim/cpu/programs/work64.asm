; work64 alone, for native execution by the test (the oracle).
bits 64
default rel
%include "work64.inc"
