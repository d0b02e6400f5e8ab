// What the simulated CPU reports through CPUID: one table, every advertised
// bit backed by an implemented feature (docs/simulator-cpu.md, "CPUID").
#pragma once
#include <cstdint>

namespace redoubt::sim::cpu {

struct CpuidResult {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  bool operator==(const CpuidResult&) const = default;
};

// The processor signature (family 19h-like), also reported in EDX after SKINIT/INIT.
inline constexpr uint32_t kCpuidSignature = 0x00A00F11;
inline constexpr unsigned kPhysAddrBits = 48, kLinearAddrBits = 48;
inline constexpr uint32_t kSvmAsids = 0x8000;

// Leaf `leaf` (ECX subleaf ignored: no implemented leaf has subleaves). Leaves
// above the maxima, and reserved leaves inside the range, return all zeros.
CpuidResult cpuid_leaf(uint32_t leaf);
// The Intel model (docs/intel.md): "GenuineIntel", CPUID.1:ECX.VMX, no SVM/SKINIT.
CpuidResult cpuid_leaf_intel(uint32_t leaf);
inline constexpr uint32_t kCpuidSignatureIntel = 0x000906EA;  // family 6 model 9Eh (a VT-x + EPT part)

}  // namespace redoubt::sim::cpu
