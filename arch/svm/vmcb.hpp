// The Virtual Machine Control Block, exactly as AMD APM vol. 2 Appendix B
// ("Layout of VMCB") lays it out: Table B-1 control area at 0x000-0x3FF,
// Table B-2 state save area at 0x400. Pure data; offsets asserted below.
// The hypervisor writes it, the CPU (simulated or real) reads it at VMRUN.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::svm {

// APM vol. 2 Table B-2: segment register in the save area (VMCB "segment" format).
struct VmcbSegment {
  uint16_t selector;
  uint16_t attrib;  // type[3:0] S[4] DPL[6:5] P[7] AVL[8] L[9] D/B[10] G[11]
  uint32_t limit;
  uint64_t base;
};
static_assert(sizeof(VmcbSegment) == 16);

struct VmcbControl {
  uint32_t intercept_cr;       // 0x000: [15:0] CRn reads, [31:16] CRn writes
  uint32_t intercept_dr;       // 0x004: [15:0] DRn reads, [31:16] DRn writes
  uint32_t intercept_exc;      // 0x008: one bit per exception vector 0-31
  uint32_t intercept_misc1;    // 0x00C: INTR..SHUTDOWN (see intercepts.hpp)
  uint32_t intercept_misc2;    // 0x010: VMRUN..EFER/CR write traps
  uint32_t intercept_misc3;    // 0x014: INVLPGB, INVPCID, MCOMMIT, TLBSYNC
  uint8_t reserved_018[0x03C - 0x018];
  uint16_t pause_filter_thresh;  // 0x03C
  uint16_t pause_filter_count;   // 0x03E
  uint64_t iopm_base_pa;       // 0x040: 12 KiB I/O permission map (4 KiB aligned)
  uint64_t msrpm_base_pa;      // 0x048: 8 KiB MSR permission map (4 KiB aligned)
  uint64_t tsc_offset;         // 0x050: added to the TSC the guest reads
  uint32_t guest_asid;         // 0x058
  uint8_t tlb_control;         // 0x05C: see TlbControl
  uint8_t reserved_05d[3];
  uint64_t vintr;              // 0x060: V_TPR[7:0] V_IRQ[8] V_GIF[9] V_INTR_PRIO[19:16] V_IGN_TPR[20] V_INTR_MASKING[24] V_INTR_VECTOR[39:32]
  uint64_t interrupt_shadow;   // 0x068: [0] INTERRUPT_SHADOW, [1] GUEST_INTERRUPT_MASK
  uint64_t exitcode;           // 0x070
  uint64_t exitinfo1;          // 0x078
  uint64_t exitinfo2;          // 0x080
  uint64_t exitintinfo;        // 0x088
  uint64_t np_enable;          // 0x090: [0] NP_ENABLE, [1] SEV, [2] SEV-ES
  uint64_t avic_apic_bar;      // 0x098
  uint64_t ghcb_gpa;           // 0x0A0
  uint64_t eventinj;           // 0x0A8: see EventInj
  uint64_t n_cr3;              // 0x0B0: nested page table root (nCR3)
  uint64_t lbr_virt;           // 0x0B8: [0] LBR virtualization, [1] virtual VMSAVE/VMLOAD
  uint32_t vmcb_clean;         // 0x0C0
  uint32_t reserved_0c4;
  uint64_t next_rip;           // 0x0C8: nRIP
  uint8_t insn_len;            // 0x0D0: number of bytes fetched (decode assists)
  uint8_t insn_bytes[15];      // 0x0D1
  uint64_t avic_backing_page;  // 0x0E0
  uint64_t reserved_0e8;
  uint64_t avic_logical_table; // 0x0F0
  uint64_t avic_physical_table;// 0x0F8
  uint64_t reserved_100;
  uint64_t vmsa_pa;            // 0x108
  uint8_t reserved_110[0x400 - 0x110];
};
static_assert(sizeof(VmcbControl) == 0x400);
static_assert(offsetof(VmcbControl, intercept_misc1) == 0x00C);
static_assert(offsetof(VmcbControl, intercept_misc2) == 0x010);
static_assert(offsetof(VmcbControl, iopm_base_pa) == 0x040);
static_assert(offsetof(VmcbControl, msrpm_base_pa) == 0x048);
static_assert(offsetof(VmcbControl, tsc_offset) == 0x050);
static_assert(offsetof(VmcbControl, guest_asid) == 0x058);
static_assert(offsetof(VmcbControl, tlb_control) == 0x05C);
static_assert(offsetof(VmcbControl, vintr) == 0x060);
static_assert(offsetof(VmcbControl, exitcode) == 0x070);
static_assert(offsetof(VmcbControl, exitinfo1) == 0x078);
static_assert(offsetof(VmcbControl, exitinfo2) == 0x080);
static_assert(offsetof(VmcbControl, exitintinfo) == 0x088);
static_assert(offsetof(VmcbControl, np_enable) == 0x090);
static_assert(offsetof(VmcbControl, eventinj) == 0x0A8);
static_assert(offsetof(VmcbControl, n_cr3) == 0x0B0);
static_assert(offsetof(VmcbControl, vmcb_clean) == 0x0C0);
static_assert(offsetof(VmcbControl, next_rip) == 0x0C8);
static_assert(offsetof(VmcbControl, insn_len) == 0x0D0);
static_assert(offsetof(VmcbControl, vmsa_pa) == 0x108);

// APM vol. 2 Table B-2 (offsets relative to the start of the VMCB).
struct VmcbSave {
  VmcbSegment es, cs, ss, ds, fs, gs;  // 0x400..0x45F
  VmcbSegment gdtr, ldtr, idtr, tr;    // 0x460..0x49F
  uint8_t reserved_4a0[0x4CB - 0x4A0];
  uint8_t cpl;                         // 0x4CB
  uint32_t reserved_4cc;
  uint64_t efer;                       // 0x4D0
  uint8_t reserved_4d8[0x548 - 0x4D8];
  uint64_t cr4;                        // 0x548
  uint64_t cr3;                        // 0x550
  uint64_t cr0;                        // 0x558
  uint64_t dr7;                        // 0x560
  uint64_t dr6;                        // 0x568
  uint64_t rflags;                     // 0x570
  uint64_t rip;                        // 0x578
  uint8_t reserved_580[0x5D8 - 0x580];
  uint64_t rsp;                        // 0x5D8
  uint64_t s_cet;                      // 0x5E0
  uint64_t ssp;                        // 0x5E8
  uint64_t isst_addr;                  // 0x5F0
  uint64_t rax;                        // 0x5F8
  uint64_t star;                       // 0x600
  uint64_t lstar;                      // 0x608
  uint64_t cstar;                      // 0x610
  uint64_t sfmask;                     // 0x618
  uint64_t kernel_gs_base;             // 0x620
  uint64_t sysenter_cs;                // 0x628
  uint64_t sysenter_esp;               // 0x630
  uint64_t sysenter_eip;               // 0x638
  uint64_t cr2;                        // 0x640
  uint8_t reserved_648[0x668 - 0x648];
  uint64_t g_pat;                      // 0x668
  uint64_t dbgctl;                     // 0x670
  uint64_t br_from;                    // 0x678
  uint64_t br_to;                      // 0x680
  uint64_t last_excp_from;             // 0x688
  uint64_t last_excp_to;               // 0x690
  uint8_t reserved_698[0x1000 - 0x698];
};
static_assert(sizeof(VmcbSave) == 0x1000 - 0x400);

struct Vmcb {
  VmcbControl control;
  VmcbSave save;
};
static_assert(sizeof(Vmcb) == 4096);
static_assert(offsetof(Vmcb, save) == 0x400);
static_assert(offsetof(Vmcb, save.cs) == 0x410);
static_assert(offsetof(Vmcb, save.gdtr) == 0x460);
static_assert(offsetof(Vmcb, save.idtr) == 0x480);
static_assert(offsetof(Vmcb, save.tr) == 0x490);
static_assert(offsetof(Vmcb, save.cpl) == 0x4CB);
static_assert(offsetof(Vmcb, save.efer) == 0x4D0);
static_assert(offsetof(Vmcb, save.cr4) == 0x548);
static_assert(offsetof(Vmcb, save.cr3) == 0x550);
static_assert(offsetof(Vmcb, save.cr0) == 0x558);
static_assert(offsetof(Vmcb, save.dr7) == 0x560);
static_assert(offsetof(Vmcb, save.rflags) == 0x570);
static_assert(offsetof(Vmcb, save.rip) == 0x578);
static_assert(offsetof(Vmcb, save.rsp) == 0x5D8);
static_assert(offsetof(Vmcb, save.rax) == 0x5F8);
static_assert(offsetof(Vmcb, save.star) == 0x600);
static_assert(offsetof(Vmcb, save.kernel_gs_base) == 0x620);
static_assert(offsetof(Vmcb, save.cr2) == 0x640);
static_assert(offsetof(Vmcb, save.g_pat) == 0x668);

// TLB_CONTROL values (APM vol. 2 §15.16.1 / Table B-1 offset 0x5C).
enum TlbControl : uint8_t {
  kTlbDoNothing = 0,
  kTlbFlushAll = 1,         // flush the entire TLB (all ASIDs)
  kTlbFlushAsid = 3,        // flush this guest's TLB entries
  kTlbFlushAsidLocal = 7,   // flush this guest's non-global entries
};

// EVENTINJ / EXITINTINFO format (APM vol. 2 §15.20, Figure 15-4).
namespace event_inj {
inline constexpr uint64_t kVectorMask = 0xFF;
inline constexpr unsigned kTypeShift = 8;  // [10:8]
inline constexpr uint64_t kTypeIntr = 0, kTypeNmi = 2, kTypeException = 3, kTypeSoftInt = 4;
inline constexpr uint64_t kErrorValid = 1ull << 11;
inline constexpr uint64_t kValid = 1ull << 31;
inline constexpr unsigned kErrorCodeShift = 32;
}  // namespace event_inj

inline constexpr uint64_t kNpEnable = 1;                 // VMCB 0x090 bit 0
inline constexpr uint32_t kMsrVmHsavePa = 0xC0010117;    // APM vol. 2 §15.30.4 VM_HSAVE_PA
inline constexpr uint32_t kMsrVmCr = 0xC0010114;         // VM_CR
inline constexpr uint64_t kIopmSize = 12 * 1024;         // §15.10.1: 12 KiB, one bit per port
inline constexpr uint64_t kMsrpmSize = 8 * 1024;         // §15.11: 8 KiB, two bits per MSR

}  // namespace redoubt::svm
