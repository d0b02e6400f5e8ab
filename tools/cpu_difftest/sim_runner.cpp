// SimRunner (sim_runner.hpp).
#include "tools/cpu_difftest/sim_runner.hpp"

#include <cstdio>
#include <cstring>

#include "arch/svm/exit_codes.hpp"
#include "arch/x86/control_regs.hpp"
#include "arch/x86/descriptors.hpp"
#include "arch/x86/paging.hpp"
#include "arch/x86/sse.hpp"

namespace redoubt::difftest {

using namespace redoubt::x86;

SimRunner::SimRunner() {
  auto& c = cpu_;
  // 64-bit mode needs paging (APM vol. 2 §14.6). 4 KiB user pages map exactly what the native child
  // maps (code, scratch, the load page), so a stray access faults in both worlds.
  constexpr uint64_t kPml4 = 0x7F0000, kPdpt = 0x7F1000, kPd = 0x7F2000, kPt = 0x7F3000;
  const uint64_t u = kPtePresent | kPteWrite | kPteUser;
  auto put = [&](uint64_t pa, uint64_t v) { std::memcpy(mem_.map(pa, 8), &v, 8); };
  put(kPml4, kPdpt | u);
  put(kPdpt, kPd | u);
  put(kPd + 8 * (kCode >> 21), kPt | u);  // 0x200000-0x3FFFFF
  static_assert(kCode >> 21 == (kLoad + 0xFFF) >> 21);
  for (uint64_t pa = kCode; pa < kCode + kCodeSize; pa += 4096) put(kPt + 8 * ((pa >> 12) & 511), pa | u);
  for (uint64_t pa : {kScratch, kLoad}) put(kPt + 8 * ((pa >> 12) & 511), pa | u);
  c.cr3 = kPml4;
  c.cr4 = kCr4Pae | kCr4Osfxsr | kCr4Osxmmexcpt;
  c.efer = kEferLme | kEferLma | kEferNxe;
  c.cr0 = kCr0Pe | kCr0Et | kCr0Pg | kCr0Wp;
  // CPL 3: the selectors Linux uses for user code and data (DPL 3, RPL 3).
  c.cs = sim::Segment{0x33, 0, 0xFFFFFFFF, uint16_t(0xB | kSegS | (3u << kSegDplShift) | kSegPresent | kSegL | kSegG)};
  c.ss = c.ds = c.es = sim::Segment{0x2B, 0, 0xFFFFFFFF,
                                    uint16_t(0x3 | kSegS | (3u << kSegDplShift) | kSegPresent | kSegDb | kSegG)};
  c.set_cpl(3);
  c.guest = true;
  c.asid = 1;
  c.ctl.icpt_exc = 0xFFFFFFFF;
  c.flush_tlb_all_current();
  c.update_mode();
}

void SimRunner::run(const Sequence& s, Outcome& out) {
  auto& c = cpu_;
  uint8_t* code = mem_.map(kCode, kCodeSize);
  std::memcpy(code, s.code.data(), s.code.size());
  code[s.code.size()] = 0x0F;  // UD2
  code[s.code.size() + 1] = 0x0B;
  c.code_modified_externally();
  std::memcpy(mem_.map(kScratch, kScratchSize), s.mem, kScratchSize);
  for (int i = 0; i < 16; ++i) {
    c.gpr[i] = s.init.gpr[i];
    std::memcpy(c.sse.xmm[i].q, s.init.xmm[i], 16);
  }
  c.sse.mxcsr = 0x1F80;
  c.set_rflags(s.init.rflags | 0x202);  // IF = 1 as in any user process
  c.rip() = kCode;
  c.halted = false;
  out.note[0] = 0;
  try {
    const auto st = c.run(100000);
    if (st == sim::cpu::Stop::vmexit && c.exitcode >= svm::kExitExcp0 && c.exitcode < svm::kExitExcp0 + 32) {
      out.vector = int(c.exitcode - svm::kExitExcp0);
      out.error = c.exitinfo1;
    } else {
      out.vector = -3;
      std::snprintf(out.note, sizeof out.note, "interpreter stopped (stop %d, exit code %#llx)", int(st),
                    (unsigned long long)c.exitcode);
    }
  } catch (const std::exception& e) {
    out.vector = -3;
    std::snprintf(out.note, sizeof out.note, "interpreter error: %s", e.what());
  }
  for (int i = 0; i < 16; ++i) {
    out.regs.gpr[i] = c.gpr[i];
    std::memcpy(out.regs.xmm[i], c.sse.xmm[i].q, 16);
  }
  out.regs.rflags = c.rflags();
  out.regs.rip = c.rip();
  out.mxcsr = c.sse.mxcsr;
  std::memcpy(out.mem, mem_.map(kScratch, kScratchSize), kScratchSize);
}

}  // namespace redoubt::difftest
