// compare.hpp.
#include "tools/cpu_difftest/compare.hpp"

#include <cstdio>
#include <cstring>

namespace redoubt::difftest {

uint64_t compared_flags(const Sequence& s, const Outcome& n) {
  if (n.regs.rip == kCode + s.code.size()) return s.defined_end;
  for (const Insn& i : s.insns)
    if (kCode + i.off == n.regs.rip) return i.defined_before;
  return kStatus;
}

std::vector<std::string> differences(const Sequence& s, const Outcome& n, const Outcome& m) {
  std::vector<std::string> d;
  char b[400];
  auto add = [&](const char* what, uint64_t nv, uint64_t sv) {
    std::snprintf(b, sizeof b, "%s native=%#llx sim=%#llx", what, (unsigned long long)nv, (unsigned long long)sv);
    d.emplace_back(b);
  };
  if (n.vector != m.vector) {
    std::snprintf(b, sizeof b, "stop: native vector %d%s%s, sim vector %d%s%s", n.vector, n.note[0] ? " " : "",
                  n.note, m.vector, m.note[0] ? " " : "", m.note);
    d.emplace_back(b);
  }
  if (n.regs.rip != m.regs.rip) add("rip", n.regs.rip, m.regs.rip);
  if (n.vector == -2 || m.vector == -3) return d;
  static const char* const names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                        "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  for (int i = 0; i < 16; ++i)
    if (n.regs.gpr[i] != m.regs.gpr[i]) add(names[i], n.regs.gpr[i], m.regs.gpr[i]);
  for (int i = 0; i < 16; ++i)
    if (std::memcmp(n.regs.xmm[i], m.regs.xmm[i], 16) != 0) {
      std::snprintf(b, sizeof b, "xmm%d native=%016llx:%016llx sim=%016llx:%016llx", i,
                    (unsigned long long)n.regs.xmm[i][1], (unsigned long long)n.regs.xmm[i][0],
                    (unsigned long long)m.regs.xmm[i][1], (unsigned long long)m.regs.xmm[i][0]);
      d.emplace_back(b);
    }
  if (n.mxcsr != m.mxcsr) add("mxcsr", n.mxcsr, m.mxcsr);
  const uint64_t mask = compared_flags(s, n) | kDF;
  if ((n.regs.rflags & mask) != (m.regs.rflags & mask)) {
    std::snprintf(b, sizeof b, "rflags native=%#llx sim=%#llx (compared bits %#llx)",
                  (unsigned long long)(n.regs.rflags & mask), (unsigned long long)(m.regs.rflags & mask),
                  (unsigned long long)mask);
    d.emplace_back(b);
  }
  if (std::memcmp(n.mem, m.mem, kScratchSize) == 0) return d;
  for (size_t i = 0; i < kScratchSize; ++i)
    if (n.mem[i] != m.mem[i]) {
      size_t j = i;
      unsigned count = 0;
      for (; j < kScratchSize; ++j) count += n.mem[j] != m.mem[j];
      std::snprintf(b, sizeof b, "memory %#llx: native=%02x sim=%02x (%u bytes differ)",
                    (unsigned long long)(kScratch + i), n.mem[i], m.mem[i], count);
      d.emplace_back(b);
      break;
    }
  return d;
}

Sequence prefix(const Sequence& s, size_t k) {
  Sequence p;
  p.seed = s.seed;
  p.init = s.init;
  std::memcpy(p.mem, s.mem, kScratchSize);
  p.insns.assign(s.insns.begin(), s.insns.begin() + long(k));
  const size_t end = k < s.insns.size() ? s.insns[k].off : s.code.size();
  p.code.assign(s.code.begin(), s.code.begin() + long(end));
  p.defined_end = k < s.insns.size() ? s.insns[k].defined_before : s.defined_end;
  return p;
}

}  // namespace redoubt::difftest
