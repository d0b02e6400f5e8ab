#include "platform/sim/skinit.hpp"

#include <cstring>

#include "abi/slb_layout.hpp"

namespace redoubt::sim {

static std::string hex(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

std::string CpuFault::name() const {
  static const char* kNames[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS",
                                 "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP"};
  std::string n = vector < sizeof kNames / sizeof *kNames ? kNames[vector] : "#" + std::to_string(vector);
  // Vectors that push an error code (APM vol. 2 §8.2).
  if (vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21)
    n += "(" + std::to_string(error_code) + ")";
  return n;
}

namespace {

Segment flat32(uint16_t sel, bool code) {
  // Flat 4 GiB, G=1, D/B=1, P=1, S=1; code: execute/read (type 0xA), data: read/write (type 0x2).
  return Segment{sel, 0, 0xFFFFFFFF, static_cast<uint16_t>((code ? 0xA : 0x2) | 0x10 | 0x80 | 0x400 | 0x800)};
}

SkinitResult fault(uint8_t vec, const std::string& why) {
  SkinitResult r;
  r.fault = CpuFault{vec, 0, why};
  return r;
}

}  // namespace

SkinitResult skinit(CpuState& cpu, std::vector<CpuState>& aps, PhysicalMemory& mem, DeviceExclusionVector& dev,
                    TpmDevice& tpm, bool skinit_supported) {
  // vol. 3 SKINIT, exceptions: #UD when EFER.SVME = 0 and the instruction is not
  // enabled, or when SKINIT is not supported (CPUID Fn8000_0001_ECX[SKINIT]).
  if (!skinit_supported) return fault(6, "SKINIT is not supported (CPUID Fn8000_0001_ECX[SKINIT] = 0)");
  if (!(cpu.efer & kEferSvme)) return fault(6, "EFER.SVME = 0: SVM is not enabled");
  // SKINIT is recognized only in protected mode (not real or virtual-8086 mode).
  if (!(cpu.cr0 & kCr0Pe) || (cpu.rflags & kRflagsVm)) return fault(6, "SKINIT outside protected mode");
  if (cpu.cpl != 0) return fault(13, "CPL " + std::to_string(cpu.cpl) + " != 0");
  for (const CpuState& ap : aps)
    if (ap.run != RunState::init_wait)
      return fault(13, "AP with APIC id " + std::to_string(ap.apic_id) + " is not in the INIT state");

  SkinitResult r;
  // EAX[15:0] are ignored: the SLB is the 64 KiB-aligned block EAX points into.
  r.slb_base = cpu.rax & 0xFFFF0000u;
  if (!mem.contains(r.slb_base, sl::kSlbSize))
    return fault(13, "SLB at physical " + hex(r.slb_base) + " is outside RAM");
  const uint8_t* slb = mem.map(r.slb_base, sl::kSlbSize);
  std::memcpy(&r.entry_offset, slb + 0, 2);  // word 0: SL entry point
  std::memcpy(&r.length, slb + 2, 2);        // word 1: SL length

  // Processor state at SL entry (APM vol. 2 §15.27 "SKINIT operation"): as after
  // INIT, except: protected mode, paging off, flat CS/SS, GIF = 0, interrupts held.
  cpu.cr0 = kCr0Pe | 0x10;  // PE=1, ET=1, PG=0
  cpu.cr3 = 0;
  cpu.cr4 = 0;
  cpu.efer = 0;
  cpu.rflags = 0x2;  // IF = 0
  cpu.dr7 = 0x400;
  cpu.cs = flat32(0x08, true);
  cpu.ss = flat32(0x10, false);
  cpu.ds = cpu.es = cpu.fs = cpu.gs = Segment{};  // only CS and SS are valid after SKINIT
  cpu.cpl = 0;
  cpu.gif = false;
  cpu.init_held = cpu.nmi_held = cpu.smi_held = true;
  cpu.rax = r.slb_base;
  cpu.rdx = kSimCpuidFamilyModelStepping;
  cpu.rsp = r.slb_base + sl::kSlbSize;
  cpu.rbx = cpu.rcx = cpu.rsi = cpu.rdi = cpu.rbp = 0;

  // DEV protection of the whole 64 KiB SLB before the measurement (§15.27).
  dev.protect(r.slb_base, sl::kSlbSize);

  // TPM hash sequence at locality 4 over SLB[0:length]: resets PCR17-22 and
  // extends PCR17 (TCG PC Client PTP, D-RTM; TPM 2.0 Part 1 §34 "_TPM_Hash_*").
  r.measured.assign(slb, slb + r.length);
  tpm.drtm_hash(r.measured.data(), r.measured.size());

  cpu.rip = r.slb_base + r.entry_offset;
  return r;
}

}  // namespace redoubt::sim
