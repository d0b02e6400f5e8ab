// Differential test of the SSE/SSE2 model against the host CPU: random
// instruction bytes and operands, run natively and by the interpreter, must
// leave identical XMM registers, MXCSR, GPRs, status flags and memory (or
// raise the same exception). RD_SSE_DIFF_CASES / RD_SSE_DIFF_SEED select the
// number of cases (default: a few seconds' worth) and the seed.
#define BOOST_TEST_MODULE sse_diff
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "tests/platform/sim/cpu/sse_cases.hpp"
#include "tests/platform/sim/cpu/sse_rig.hpp"

using namespace redoubt::test::sse;

namespace {

uint64_t env_or(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 0) : def;
}

std::string hex(const std::vector<uint8_t>& b) {
  std::ostringstream s;
  for (uint8_t x : b) { char t[4]; std::snprintf(t, sizeof t, "%02x ", x); s << t; }
  return s.str();
}

// Empty if equal, else the first differences.
std::string compare(const Outcome& n, const Outcome& s) {
  std::ostringstream d;
  if (n.vector != s.vector) d << "vector native=" << n.vector << " sim=" << s.vector << "; ";
  for (unsigned i = 0; i < 16; ++i)
    if (!(n.regs.xmm[i] == s.regs.xmm[i])) {
      char t[120];
      std::snprintf(t, sizeof t, "xmm%u native=%016llx:%016llx sim=%016llx:%016llx; ", i,
                    (unsigned long long)n.regs.xmm[i].q[1], (unsigned long long)n.regs.xmm[i].q[0],
                    (unsigned long long)s.regs.xmm[i].q[1], (unsigned long long)s.regs.xmm[i].q[0]);
      d << t;
    }
  if (n.regs.mxcsr != s.regs.mxcsr) d << std::hex << "mxcsr native=" << n.regs.mxcsr << " sim=" << s.regs.mxcsr << "; ";
  if (n.vector == -1 && s.vector == -1) {
    for (unsigned i = 0; i < 16; ++i)
      if (i != 4 && n.regs.gpr[i] != s.regs.gpr[i])
        d << std::hex << "gpr" << std::dec << i << std::hex << " native=" << n.regs.gpr[i] << " sim=" << s.regs.gpr[i] << "; ";
    if ((n.regs.rflags & 0x8D5) != (s.regs.rflags & 0x8D5))
      d << std::hex << "flags native=" << (n.regs.rflags & 0x8D5) << " sim=" << (s.regs.rflags & 0x8D5) << "; ";
    for (size_t i = 0; i < n.data.size(); ++i)
      if (n.data[i] != s.data[i]) {
        d << std::hex << "memory differs at +" << i << "; ";
        break;
      }
  }
  return d.str();
}

}  // namespace

BOOST_AUTO_TEST_CASE(random_sse_instructions_match_the_host_cpu) {
  NativeRig native;
  if (!native.available()) {
    BOOST_TEST_MESSAGE("fixed native windows unavailable; skipped");
    return;
  }
  SimRig sim;
  const uint64_t cases = env_or("RD_SSE_DIFF_CASES", 40000);
  const uint64_t seed = env_or("RD_SSE_DIFF_SEED", 20261202);
  std::mt19937_64 rng(seed);
  const unsigned forms = opcode_forms();
  uint64_t divergences = 0, faults = 0, xm = 0;
  for (uint64_t i = 0; i < cases; ++i) {
    const Case c = make_case(rng, unsigned(i % forms));
    const Outcome n = native.run(c.insn, c.regs, c.data);
    const Outcome s = sim.run(c.insn, c.regs, c.data);
    if (n.vector >= 0) ++faults;
    if (n.vector == 19) ++xm;
    const std::string diff = compare(n, s);
    if (!diff.empty()) {
      if (++divergences <= 20)
        BOOST_ERROR("case " << i << " " << c.name << " [" << hex(c.insn) << "] mxcsr_in=" << std::hex
                            << c.regs.mxcsr << ": " << diff);
    }
  }
  BOOST_TEST_MESSAGE(cases << " cases over " << forms << " opcode forms (seed " << seed << "), " << faults
                           << " raised an exception natively (" << xm << " #XM), " << divergences << " divergences");
  BOOST_TEST(divergences == 0u);
}
