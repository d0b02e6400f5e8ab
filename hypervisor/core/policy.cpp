#include "hypervisor/core/policy.hpp"

namespace redoubt::hv {
namespace {

constexpr uint32_t str4(const char* s) {
  return uint32_t(uint8_t(s[0])) | uint32_t(uint8_t(s[1])) << 8 | uint32_t(uint8_t(s[2])) << 16 |
         uint32_t(uint8_t(s[3])) << 24;
}

void add(CpuidPolicy& p, uint32_t leaf, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  if (p.count < CpuidPolicy::kMax) p.entries[p.count++] = CpuidEntry{leaf, 0, true, a, b, c, d};
}

}  // namespace

void default_cpuid(CpuidPolicy& p) {
  p = CpuidPolicy{};
  static constexpr char kBrand[49] = "Redoubt virtual CPU (x86-64, AMD-V simulated)   ";
  // Fn0000_0000: max basic leaf 0xD, "AuthenticAMD" (EBX, EDX, ECX).
  add(p, 0x0, 0xD, str4("Auth"), str4("cAMD"), str4("enti"));
  // Fn0000_0001: family 19h-like signature; SSE3 SSSE3 CX16 SSE4.1 SSE4.2 POPCNT,
  // and ECX[31] "hypervisor present" set as any VMM would — hidden by the mask.
  add(p, 0x1, 0x00A00F11, 0x00010800, 0x00982201u | kCpuidHypervisorBit, 0x178BFBFF);
  add(p, 0x7, 0, 0, 0, 0);
  // Hypervisor leaves (hidden unless hide_hypervisor is false).
  add(p, 0x40000000, 0x40000001, str4("Redo"), str4("ubtH"), str4("V\0\0\0"));
  add(p, 0x40000001, 0, 0, 0, 0);
  add(p, 0x80000000, 0x8000000A, str4("Auth"), str4("cAMD"), str4("enti"));
  // Fn8000_0001: LAHF, SVM (hidden by the mask); SYSCALL NX LM.
  add(p, 0x80000001, 0x00A00F11, 0, 0x1u | kCpuidSvmBit, 0x20100800);
  for (uint32_t i = 0; i < 3; ++i) {
    const char* b = kBrand + 16 * i;
    add(p, 0x80000002 + i, str4(b), str4(b + 4), str4(b + 8), str4(b + 12));
  }
  add(p, 0x80000008, 0x3028, 0, 0, 0);  // 40-bit physical, 48-bit linear
  // Fn8000_000A: SVM revision 1, 16 ASIDs, NP — what nested virtualization would expose.
  add(p, 0x8000000A, 1, 16, 0, 1);
  p.hide_hypervisor = true;
  p.hide_svm = true;
}

void cpuid_lookup(const CpuidPolicy& p, uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
  out[0] = out[1] = out[2] = out[3] = 0;
  for (uint32_t i = 0; i < p.count; ++i) {
    const CpuidEntry& e = p.entries[i];
    if (e.leaf == leaf && (e.any_subleaf || e.subleaf == subleaf)) {
      out[0] = e.eax;
      out[1] = e.ebx;
      out[2] = e.ecx;
      out[3] = e.edx;
      break;
    }
  }
  if (p.hide_hypervisor) {
    if (leaf == 1) out[2] &= ~kCpuidHypervisorBit;
    if (leaf >= 0x40000000 && leaf <= 0x400000FF) out[0] = out[1] = out[2] = out[3] = 0;
  }
  if (p.hide_svm) {
    if (leaf == 0x80000001) out[2] &= ~kCpuidSvmBit;
    if (leaf == 0x8000000A) out[0] = out[1] = out[2] = out[3] = 0;
  }
  for (uint32_t i = 0; i < p.clear_count && i < CpuidPolicy::kMaxClears; ++i) {
    const CpuidClear& c = p.clears[i];
    if (c.leaf == leaf && (c.any_subleaf || c.subleaf == subleaf) && c.reg < 4) out[c.reg] &= ~c.clear;
  }
}

void default_policy(GuestPolicy& p) {
  p = GuestPolicy{};
  default_cpuid(p.cpuid);
}

}  // namespace redoubt::hv
