#include "arch/svm/exit_codes.hpp"

namespace redoubt::svm {

const char* exit_code_name(uint64_t code) {
  static const char* const kExc[32] = {
      "EXCP_DE", "EXCP_DB", "EXCP_NMI", "EXCP_BP", "EXCP_OF", "EXCP_BR", "EXCP_UD", "EXCP_NM",
      "EXCP_DF", "EXCP_9",  "EXCP_TS",  "EXCP_NP", "EXCP_SS", "EXCP_GP", "EXCP_PF", "EXCP_15",
      "EXCP_MF", "EXCP_AC", "EXCP_MC",  "EXCP_XF", "EXCP_20", "EXCP_CP", "EXCP_22", "EXCP_23",
      "EXCP_24", "EXCP_25", "EXCP_26",  "EXCP_27", "EXCP_HV", "EXCP_VC", "EXCP_SX", "EXCP_31"};
  static const char* const kCrRead[16] = {"CR0_READ", "CR1_READ", "CR2_READ", "CR3_READ", "CR4_READ", "CR5_READ",
                                          "CR6_READ", "CR7_READ", "CR8_READ", "CR9_READ", "CR10_READ", "CR11_READ",
                                          "CR12_READ", "CR13_READ", "CR14_READ", "CR15_READ"};
  static const char* const kCrWrite[16] = {"CR0_WRITE", "CR1_WRITE", "CR2_WRITE", "CR3_WRITE", "CR4_WRITE",
                                           "CR5_WRITE", "CR6_WRITE", "CR7_WRITE", "CR8_WRITE", "CR9_WRITE",
                                           "CR10_WRITE", "CR11_WRITE", "CR12_WRITE", "CR13_WRITE", "CR14_WRITE",
                                           "CR15_WRITE"};
  // 0x060..0x08F in order (APM vol. 2 Appendix C).
  static const char* const kMisc[0x30] = {
      "INTR",     "NMI",       "SMI",      "INIT",       "VINTR",    "CR0_SEL_WRITE", "IDTR_READ", "GDTR_READ",
      "LDTR_READ", "TR_READ",  "IDTR_WRITE", "GDTR_WRITE", "LDTR_WRITE", "TR_WRITE",   "RDTSC",     "RDPMC",
      "PUSHF",    "POPF",      "CPUID",    "RSM",        "IRET",     "SWINT",         "INVD",      "PAUSE",
      "HLT",      "INVLPG",    "INVLPGA",  "IOIO",       "MSR",      "TASK_SWITCH",   "FERR_FREEZE", "SHUTDOWN",
      "VMRUN",    "VMMCALL",   "VMLOAD",   "VMSAVE",     "STGI",     "CLGI",          "SKINIT",    "RDTSCP",
      "ICEBP",    "WBINVD",    "MONITOR",  "MWAIT",      "MWAIT_CONDITIONAL", "XSETBV", "RDPRU",   "EFER_WRITE_TRAP"};
  if (code < 0x10) return kCrRead[code];
  if (code < 0x20) return kCrWrite[code - 0x10];
  if (code < 0x30) return "DR_READ";
  if (code < 0x40) return "DR_WRITE";
  if (code < 0x60) return kExc[code - 0x40];
  if (code < 0x90) return kMisc[code - 0x60];
  if (code < 0xA0) return "CR_WRITE_TRAP";
  switch (code) {
    case kExitInvlpgb: return "INVLPGB";
    case kExitInvlpgbIllegal: return "INVLPGB_ILLEGAL";
    case kExitInvpcid: return "INVPCID";
    case kExitMcommit: return "MCOMMIT";
    case kExitTlbsync: return "TLBSYNC";
    case kExitNpf: return "NPF";
    case kExitAvicIncompleteIpi: return "AVIC_INCOMPLETE_IPI";
    case kExitAvicNoaccel: return "AVIC_NOACCEL";
    case kExitVmgexit: return "VMGEXIT";
    case kExitInvalid: return "INVALID";
    case kExitBusy: return "BUSY";
    default: return "UNKNOWN";
  }
}

}  // namespace redoubt::svm
