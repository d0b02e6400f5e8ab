// The virtualization holes rig (issue 14): one sensitive instruction run on the simulated
// CPU (a) natively at CPL 0, (b) deprivileged at CPL 3 the way a pre-VT VMM runs a guest
// kernel, and (c) as an SVM guest with the intercept that closes the hole. The "host"
// state it can leak is distinctive: GDTR 0x1000/0x6F, IDTR 0x2000/0xFFF, CR0 0x80000011,
// TR 0x48, LDTR 0, IF = 1. Shared by holes_test.cpp (asserts) and holes_table.cpp (the
// table in docs/virtualization-holes.md).
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/intercepts.hpp"
#include "arch/x86/paging.hpp"
#include "tests/platform/sim/cpu/bare_cpu.hpp"

namespace redoubt::test::holes {

namespace cpu = redoubt::sim::cpu;

enum class Where { cpl0, cpl3, svm };
inline const char* where_name(Where w) {
  return w == Where::cpl0 ? "CPL 0 (native)" : w == Where::cpl3 ? "CPL 3 (deprivileged)" : "SVM guest + intercept";
}

inline constexpr uint64_t kBuf = 0x300000;  // RAX points here for memory forms; pre-filled with 0xCC
inline constexpr uint16_t kTss = 0x48, kData3 = 0x5B, kCode3 = 0x63;
inline constexpr uint64_t kHostCr0 = 0x80000011;  // PG | ET | PE

struct Case {
  const char* name;
  std::vector<uint8_t> code;  // one instruction
  uint32_t misc1 = 0;         // the SVM intercept that closes it (VMCB offset 0x00C)
  uint32_t cr_read = 0;       // or CR read intercepts (VMCB offset 0x000)
  uint64_t rcx = 0;           // selector operand / POPF: nothing
  uint64_t rax = kBuf;
};

struct Outcome {
  cpu::Stop stop = cpu::Stop::none;
  uint64_t rip = 0, nrip = 0, exitcode = 0, rax = 0, rflags = 0, rsp = 0;
  uint8_t mem[16] = {};
  uint64_t stack_top = 0;  // the 8 bytes at RSP after the instruction
};

// The cases of the table, in order.
inline std::vector<Case> cases() {
  namespace s = redoubt::svm;
  return {
      {"SMSW rax", {0x48, 0x0F, 0x01, 0xE0}, 0, 1u, 0, 0x1111111111111111ull},
      {"SMSW [rax]", {0x0F, 0x01, 0x20}, 0, 1u},
      {"SGDT [rax]", {0x0F, 0x01, 0x00}, s::kInterceptGdtrRead},
      {"SIDT [rax]", {0x0F, 0x01, 0x08}, s::kInterceptIdtrRead},
      {"SLDT [rax]", {0x0F, 0x00, 0x00}, s::kInterceptLdtrRead},
      {"STR eax", {0x0F, 0x00, 0xC8}, s::kInterceptTrRead, 0, 0, 0x1111111111111111ull},
      {"STR [rax]", {0x0F, 0x00, 0x08}, s::kInterceptTrRead},
      {"PUSHFQ", {0x9C}, s::kInterceptPushf},
      {"POPFQ (IF=0 popped)", {0x9D}, s::kInterceptPopf},
      {"LAR eax, ecx (0x18)", {0x0F, 0x02, 0xC1}, 0, 0, 0x18, 0x1111111111111111ull},
      {"LSL eax, ecx (0x10)", {0x0F, 0x03, 0xC1}, 0, 0, 0x10, 0x1111111111111111ull},
      {"VERR cx (0x10)", {0x0F, 0x00, 0xE1}, 0, 0, 0x10},
      {"VERW cx (0x10)", {0x0F, 0x00, 0xE9}, 0, 0, 0x10},
      {"CPUID (leaf 0)", {0x0F, 0xA2}, s::kInterceptCpuid, 0, 0, 0},
  };
}

// Host state as described above, the instruction at kCode, run for one instruction.
inline Outcome run(const Case& k, Where w) {
  using namespace redoubt::x86;
  BareCpu b;
  // More GDT entries: 0x48 busy 64-bit TSS (16 bytes), 0x58 data DPL 3, 0x60 64-bit code DPL 3.
  b.wr64(BareCpu::kGdt + 0x48, 0x67 | (0x5000ull << 16) | (0x8Bull << 40));
  b.wr64(BareCpu::kGdt + 0x50, 0);
  b.wr64(BareCpu::kGdt + 0x58, 0x00CFF2000000FFFFull);
  b.wr64(BareCpu::kGdt + 0x60, 0x00AFFA000000FFFFull);
  b.c.gdtr.limit = 0x6F;
  b.load(k.code, BareCpu::kCode);
  b.long_mode_state(BareCpu::kCode);
  b.c.idtr.base = BareCpu::kIdt;
  b.c.idtr.limit = 0xFFF;
  b.c.cr0 = kHostCr0;
  b.c.tr = sim::Segment{kTss, 0x5000, 0x67, 0x8B};
  b.c.ldtr = sim::Segment{};
  // User-accessible identity map (the deprivileged kernel's code, stack and buffer).
  b.wr64(BareCpu::kPml4, BareCpu::kPdpt | kPtePresent | kPteWrite | kPteUser);
  for (uint64_t i = 0; i < 4; ++i)
    b.wr64(BareCpu::kPdpt + 8 * i, (i << 30) | kPtePresent | kPteWrite | kPteUser | kPteLarge);
  b.c.flush_tlb_all_current();
  if (w == Where::cpl3) {
    b.c.cs = sim::Segment{kCode3, 0, 0xFFFFFFFF, uint16_t(0xB | kSegS | kSegPresent | kSegL | kSegG | (3 << 5))};
    b.c.ss = sim::Segment{kData3, 0, 0xFFFFFFFF, uint16_t(0x3 | kSegS | kSegPresent | kSegDb | kSegG | (3 << 5))};
    b.c.cpl = 3;
  }
  if (w == Where::svm) {
    b.c.guest = true;
    b.c.ctl.icpt_misc1 = k.misc1;
    b.c.ctl.icpt_cr = k.cr_read;
  }
  b.c.set_rflags(0x202);  // IF = 1, IOPL = 0
  b.c.update_mode();
  b.c.gpr[cpu::RAX] = k.rax;
  b.c.gpr[cpu::RCX] = k.rcx;
  const uint64_t rsp = BareCpu::kStackTop - 0x100;
  b.c.gpr[cpu::RSP] = rsp;
  b.wr64(rsp, 0x2);  // what POPFQ pops: IF = 0
  b.wr64(rsp - 8, 0xCCCCCCCCCCCCCCCCull);
  for (unsigned i = 0; i < 16; ++i) *b.mem.map(kBuf + i, 1) = 0xCC;
  Outcome o;
  o.stop = b.c.run(1);
  o.rip = b.c.rip();
  o.nrip = b.c.nrip;
  o.exitcode = b.c.exitcode;
  o.rax = b.c.gpr[cpu::RAX];
  o.rflags = b.c.rflags();
  o.rsp = b.c.gpr[cpu::RSP];
  for (unsigned i = 0; i < 16; ++i) o.mem[i] = *b.mem.map(kBuf + i, 1);
  o.stack_top = b.rd64(o.rsp);
  return o;
}

inline std::string hex(uint64_t v) {
  char s[24];
  std::snprintf(s, sizeof s, "0x%llx", static_cast<unsigned long long>(v));
  return s;
}
inline uint64_t le(const uint8_t* p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

// One table cell: what the instruction yielded, from the outcome alone.
inline std::string describe(const Case& k, const Outcome& o) {
  if (o.stop == cpu::Stop::vmexit)
    return "#VMEXIT " + hex(o.exitcode) + ", RIP at insn, nRIP +" + std::to_string(o.nrip - BareCpu::kCode) +
           (le(o.mem, 8) == 0xCCCCCCCCCCCCCCCCull && (o.rax == k.rax || k.rax == kBuf) ? ", nothing written" : ", WROTE");
  if (o.rip == BareCpu::kCode) return "fault (RIP at insn)";
  const std::string n = k.name;
  const std::string zf = (o.rflags & cpu::kZF) ? "ZF=1" : "ZF=0";
  if (n.rfind("SMSW rax", 0) == 0 || n.rfind("STR eax", 0) == 0) return "RAX=" + hex(o.rax);
  if (n.rfind("SMSW [", 0) == 0 || n.rfind("SLDT", 0) == 0 || n.rfind("STR [", 0) == 0) return "m16=" + hex(le(o.mem, 2));
  if (n.rfind("SGDT", 0) == 0 || n.rfind("SIDT", 0) == 0)
    return "limit=" + hex(le(o.mem, 2)) + " base=" + hex(le(o.mem + 2, 8));
  if (n == "PUSHFQ") return "pushed " + hex(o.stack_top) + (o.stack_top & cpu::kIF ? " (IF=1)" : " (IF=0)");
  if (n.rfind("POPFQ", 0) == 0) return std::string(o.rflags & cpu::kIF ? "IF stays 1, no fault" : "IF=0");
  if (n.rfind("LAR", 0) == 0 || n.rfind("LSL", 0) == 0) return zf + " RAX=" + hex(o.rax);
  if (n.rfind("CPUID", 0) == 0) return "EAX=" + hex(o.rax) + " (highest leaf)";
  return zf;
}

}  // namespace redoubt::test::holes
