// The CPUID table. A bit is set only when the interpreter implements the
// feature it names; everything else is 0 (AMD APM vol. 3 Appendix E).
#include "platform/sim/cpu/cpuid_table.hpp"

#include "arch/x86/cpuid.hpp"

namespace redoubt::sim::cpu {

using namespace redoubt::x86::cpuid;

namespace {

// ---- SSE/SSE2/FXSR: the one place they are switched on. They stay OFF until
// the SSE/SSE2 instructions and FXSAVE/FXRSTOR exist in the interpreter
// (exec_sse.cpp, being written); set them there and then only.
// FXSAVE/FXRSTOR, SSE, SSE2 and CLFLUSH: platform/sim/cpu/exec_sse.cpp (no MMX, no x87).
constexpr uint32_t kSseFamilyEdx = kFxsr | kSse | kSse2 | kClflush;

// Fn0000_0001_EDX.
constexpr uint32_t kFn1Edx = kTsc      // RDTSC (TSC = instructions retired), CR4.TSD
                             | kMsr    // RDMSR/WRMSR (the MSRs listed in docs/simulator-cpu.md)
                             | kPae    // CR4.PAE; the 4-level long-mode walk (legacy PAE paging is not modelled)
                             | kPge    // global pages with CR4.PGE
                             | kCmov   // CMOVcc
                             | kPat    // the PAT MSR (memory types have no effect in the model)
                             | kSseFamilyEdx;
// Not set: FPU/MMX (no x87), VME, DE, PSE/PSE36 (no legacy 32-bit paging), MCE/MCA/MTRR (no MSRs),
// CX8 (no CMPXCHG8B), APIC (no local APIC model), SYSENTER (no SYSENTER/SYSEXIT), HTT.
constexpr uint32_t kFn1Ecx = 0;  // no SSE3+, CMPXCHG16B, POPCNT, MOVBE, XSAVE, ...; not a hypervisor guest

// Fn8000_0001_ECX.
constexpr uint32_t kExtEcxBits = kLahfSahf  // LAHF/SAHF in 64-bit mode
                                 | kSvm      // SVM: VMRUN of guests (platform/sim/svm), EFER.SVME
                                 | kSkinit;  // SKINIT (platform/sim/skinit) and STGI
// Fn8000_0001_EDX: the Fn1 mirror plus the long-mode features.
constexpr uint32_t kExtEdxBits = (kFn1Edx & kExtEdxMirrorOfFn1)
                                 | kNx       // EFER.NXE, the NX bit in the walk
                                 | kPage1Gb  // 1 GiB pages (PDPTE.PS) in guest and nested walks
                                 | kRdtscp   // RDTSCP, TSC_AUX
                                 | kLm;      // long mode: 64-bit and compatibility mode
// Not set: SYSCALL (no SYSCALL/SYSRET), FFXSR, MMXEXT.
// Fn8000_000A_EDX.
constexpr uint32_t kSvmEdxBits = kNp      // nested paging
                                 | kNrips;  // nRIP saved on #VMEXIT
// Not set: LBR virtualization, SVM lock, VMCB clean bits, flush by ASID, decode assists (only
// partial EXITINFO1 assists exist), pause filter, AVIC, vGIF.

}  // namespace

CpuidResult cpuid_leaf(uint32_t leaf) {
  switch (leaf) {
    case kLeafVendor: return {kLeafFeatures, kVendorEbx, kVendorEcx, kVendorEdx};
    case kLeafFeatures: return {kCpuidSignature, 8u << 8 /* CLFLUSH line: 8 quadwords */, kFn1Ecx, kFn1Edx};
    case kLeafExtMax: return {kLeafSvm, kVendorEbx, kVendorEcx, kVendorEdx};
    case kLeafExtFeatures: return {kCpuidSignature, 0, kExtEcxBits, kExtEdxBits};
    case kLeafAddressSizes: return {kPhysAddrBits | (kLinearAddrBits << 8), 0, 0, 0};
    case kLeafSvm: return {1 /* SVM revision */, kSvmAsids, 0, kSvmEdxBits};
    default: return {};
  }
}

// The Intel model (Intel SDM vol. 2A "CPUID"): same implemented features, Intel's
// layout. VMX in leaf 1 ECX (platform/sim/vmx); no SMX yet (no GETSEC), no SVM,
// no SKINIT. Intel has no Fn8000_0001_EDX mirror of leaf 1 and no leaf 8000_000A.
CpuidResult cpuid_leaf_intel(uint32_t leaf) {
  constexpr uint32_t kIntelExtEcx = kLahfSahf;
  constexpr uint32_t kIntelExtEdx = kNx | kPage1Gb | kRdtscp | kLm;
  switch (leaf) {
    case kLeafVendor: return {kLeafFeatures, kIntelVendorEbx, kIntelVendorEcx, kIntelVendorEdx};
    case kLeafFeatures: return {kCpuidSignatureIntel, 8u << 8, kFn1Ecx | kIntelFn1EcxVmx, kFn1Edx};
    case kLeafExtMax: return {kLeafAddressSizes, 0, 0, 0};
    case kLeafExtFeatures: return {0, 0, kIntelExtEcx, kIntelExtEdx};
    case kLeafAddressSizes: return {kPhysAddrBits | (kLinearAddrBits << 8), 0, 0, 0};
    default: return {};
  }
}

}  // namespace redoubt::sim::cpu
