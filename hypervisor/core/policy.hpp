// The per-guest policy the hypervisor enforces: a compiled-in default, the
// signed launch policy's CPUID masks and I/O ranges (issue 4), and a few
// debugging flags from the loader's guest table that only loosen CPUID
// reporting or #NPF handling (never isolation).
#pragma once
#include <cstdint>

namespace redoubt::hv {

// CPUID as the guest sees it. A VMM can make CPUID report any processor it
// likes: the guest gets `entries` (leaf, subleaf) exactly, zeros for leaves
// not listed (AMD behaviour beyond the maximum leaf), then the masks below.
struct CpuidEntry {
  uint32_t leaf, subleaf;
  bool any_subleaf;
  uint32_t eax, ebx, ecx, edx;
};

// Bits the signed launch policy hides (its guest_cpuid list), applied last.
struct CpuidClear {
  uint32_t leaf, subleaf;
  bool any_subleaf;
  uint8_t reg;     // 0 eax, 1 ebx, 2 ecx, 3 edx
  uint32_t clear;
};

struct CpuidPolicy {
  static constexpr uint32_t kMax = 24;
  static constexpr uint32_t kMaxClears = 32;
  CpuidEntry entries[kMax];
  uint32_t count = 0;
  CpuidClear clears[kMaxClears];
  uint32_t clear_count = 0;
  bool hide_hypervisor = true;  // Fn0000_0001_ECX[31] = 0 and no 0x4000_00xx leaves
  bool hide_svm = true;         // Fn8000_0001_ECX[SVM] = 0 and Fn8000_000A all zero
};

// The processor the default policy reports (docs/hypervisor.md, "CPUID").
void default_cpuid(CpuidPolicy& p);
// The four registers CPUID(leaf, subleaf) returns under p.
void cpuid_lookup(const CpuidPolicy& p, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

inline constexpr uint32_t kCpuidHypervisorBit = 1u << 31;  // Fn0000_0001_ECX[31]
inline constexpr uint32_t kCpuidSvmBit = 1u << 2;          // Fn8000_0001_ECX[2]

enum class NpfAction : uint8_t {
  kill,        // stop the guest; report the faulting guest-physical address
  inject_pf,   // inject #PF (CR2 = faulting guest-physical address) and let the guest go on
};

struct IoGrant {
  uint16_t base, count;  // ports [base, base+count) pass through to the hardware
};

struct GuestPolicy {
  CpuidPolicy cpuid;
  NpfAction npf = NpfAction::kill;
  uint32_t max_violations = 8;  // with inject_pf: kill at the (max+1)-th violation
  IoGrant io[4] = {};
  uint32_t io_count = 0;
  uint64_t slice_ticks = 100000;      // scheduling quantum, TSC ticks
  // The time budget (docs/hypervisor.md, "Budget"): a guest is charged the TSC ticks it ran
  // plus exit_charge_ticks for every #VMEXIT (the host time an exit costs, which the guest's
  // own TSC does not see: a 1-tick timer storm pays per exit, not per tick), and may cause at
  // most budget_exits exits. 0 = unlimited.
  uint64_t budget_ticks = 5000000000ull;
  uint64_t exit_charge_ticks = 10000;
  uint64_t budget_exits = 1000000;
  // The guest timer fires at most every min_timer_ticks (its delay and period are raised to
  // it, as KVM's min_timer_period_us), and every VMRUN gives the guest at least that long
  // before the host timer (the world switch itself takes TSC ticks on the measured engine:
  // a deadline already past at VMRUN would exit before the guest's first instruction).
  uint64_t min_timer_ticks = 1000;
  // Serial flood: once its 64 KiB serial log is full a guest's output is dropped unseen; a
  // guest that writes this many more bytes is ended ("serial flood"). Through the console
  // hypercall that is 4096 exits; byte by byte through the UART the time budget ends it first.
  uint64_t serial_flood_bytes = 16ull << 20;
};

void default_policy(GuestPolicy& p);

}  // namespace redoubt::hv
