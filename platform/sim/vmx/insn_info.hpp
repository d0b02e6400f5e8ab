// The VM-exit instruction-information field and the exit qualification of the
// descriptor-table exits (Intel SDM vol. 3C §28.2.1 "Exit Qualification" and
// §28.2.5 "Information for VM Exits Due to Instruction Execution", Table 28-10
// for LGDT/LIDT/SGDT/SIDT and Table 28-11 for LLDT/LTR/SLDT/STR). The CPU reports
// only that the instruction was intercepted; the operand is decoded here from
// the instruction bytes, as the processor's decoder reports it.
#pragma once
#include <cstdint>
#include <cstddef>

namespace redoubt::sim::vmx {

// Instruction identity, bits 29:28 of both tables.
enum class DtInsn : uint8_t { sgdt = 0, sidt = 1, lgdt = 2, lidt = 3, sldt = 0, str = 1, lldt = 2, ltr = 3 };

struct DtExitInfo {
  uint32_t info = 0;  // VM-exit instruction information (VMCS 0x440E)
  uint64_t qual = 0;  // exit qualification: the displacement, sign-extended; 0 without one (§28.2.1)
};

// Decodes `insn` (the instruction's bytes from RIP; `n` of them available) executed with the default
// address/operand size `default_bits` (16, 32 or 64 = 64-bit mode). `gdtr_idtr`: Table 28-10 (exit
// 46), else Table 28-11 (exit 47). Returns false if the bytes are not one of the eight instructions
// (0F 01 /0-/3 memory, 0F 00 /0-/3) — a decoding the CPU would not have intercepted.
bool decode_dt_exit(const uint8_t* insn, size_t n, unsigned default_bits, bool gdtr_idtr, DtInsn id, DtExitInfo& out);

}  // namespace redoubt::sim::vmx
