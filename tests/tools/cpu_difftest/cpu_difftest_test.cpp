// The differential tester's own rules, on hand-built sequences: both worlds agree on MUL and on a
// #DE, a planted difference in a defined flag, a register or memory is reported while one in an
// undefined flag is not, a stray access faults in both worlds, and the generator is deterministic.
#define BOOST_TEST_MODULE cpu_difftest
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <memory>

#include "tools/cpu_difftest/compare.hpp"
#include "tools/cpu_difftest/generator.hpp"
#include "tools/cpu_difftest/native.hpp"
#include "tools/cpu_difftest/sim_runner.hpp"

using namespace redoubt::difftest;

namespace {

struct Rig {
  NativeRunner native;
  SimRunner sim;
  std::unique_ptr<Outcome> n = std::make_unique<Outcome>(), s = std::make_unique<Outcome>();
  std::vector<std::string> run(const Sequence& q) {
    const Sequence* p = &q;
    native.run(&p, 1, n.get());
    sim.run(q, *s);
    return differences(q, *n, *s);
  }
};

// One instruction, RAX = 0x123456789, RBX = rbx, RSP = the scratch stack.
std::unique_ptr<Sequence> one(std::vector<uint8_t> code, uint64_t rbx, uint64_t defined_end) {
  auto q = std::make_unique<Sequence>();
  q->code = std::move(code);
  q->insns.push_back(Insn{0, uint8_t(q->code.size()), kStatus, "hand-built"});
  q->defined_end = defined_end;
  q->init.gpr[0] = 0x123456789;
  q->init.gpr[3] = rbx;
  q->init.gpr[4] = kStackTop;
  q->init.rflags = 2;
  std::memset(q->mem, 0x5A, sizeof q->mem);
  return q;
}

}  // namespace

BOOST_AUTO_TEST_CASE(mul_agrees_and_only_its_defined_flags_are_compared) {
  Rig r;
  // MUL RBX (48 F7 E3): CF and OF defined, SF ZF AF PF undefined (SDM vol. 2B "MUL").
  const auto q = one({0x48, 0xF7, 0xE3}, 0x1000000001ull, kCF | kOF);
  BOOST_TEST(r.run(*q).empty());
  BOOST_TEST(r.n->vector == 6);  // the end marker: vector 6 after the last instruction
  BOOST_TEST(r.n->regs.rip == kCode + 3);
  BOOST_TEST(r.n->regs.gpr[0] == 0x123456789ull * 0x1000000001ull);  // low half
  BOOST_TEST(r.n->regs.gpr[2] == 0x12ull);                             // RDX: high half
  BOOST_TEST((r.n->regs.rflags & (kCF | kOF)) == (kCF | kOF));
  // An undefined flag that differs is not a divergence; a defined one is.
  r.s->regs.rflags ^= kSF | kZF;
  BOOST_TEST(differences(*q, *r.n, *r.s).empty());
  r.s->regs.rflags ^= kCF;
  BOOST_TEST(differences(*q, *r.n, *r.s).size() == 1u);
  r.s->regs.rflags ^= kCF;
  r.s->regs.gpr[2] ^= 1;
  BOOST_TEST(differences(*q, *r.n, *r.s).size() == 1u);
  r.s->regs.gpr[2] ^= 1;
  r.s->mem[100] ^= 1;
  BOOST_TEST(differences(*q, *r.n, *r.s).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_divide_error_is_the_same_fault_in_both_worlds) {
  Rig r;
  const auto q = one({0x48, 0xF7, 0xF3}, 0, kStatus);  // DIV RBX with RBX = 0: #DE
  BOOST_TEST(r.run(*q).empty());
  BOOST_TEST(r.n->vector == 0);
  BOOST_TEST(r.s->vector == 0);
  BOOST_TEST(r.n->regs.rip == kCode);  // a fault: RIP at the instruction
}

BOOST_AUTO_TEST_CASE(a_stray_access_faults_in_both_worlds) {
  Rig r;
  // MOV [RBX], EAX with RBX just below the scratch page (code page 3 is mapped, 0x34F000 is
  // within it; 0x33F000 is not mapped in either world): #PF.
  const auto q = one({0x89, 0x03}, 0x33F000, kStatus);
  BOOST_TEST(r.run(*q).empty());
  BOOST_TEST(r.n->vector == 14);
  BOOST_TEST(r.s->vector == 14);
}

BOOST_AUTO_TEST_CASE(the_generator_is_deterministic) {
  auto a = std::make_unique<Sequence>(), b = std::make_unique<Sequence>(), c = std::make_unique<Sequence>();
  GenOptions o;
  generate(42, o, *a);
  generate(42, o, *b);
  generate(43, o, *c);
  BOOST_TEST(a->code == b->code);
  BOOST_TEST(std::memcmp(a->mem, b->mem, kScratchSize) == 0);
  BOOST_TEST(a->code != c->code);
  BOOST_TEST(a->insns.size() >= o.min_insns);
  // The instructions it records tile the code exactly, in order (fault masks and the bisection
  // that names the divergent instruction rely on it), for every class.
  unsigned bad = 0;
  for (uint64_t seed = 1; seed <= 2000; ++seed) {
    generate(seed, o, *c);
    size_t off = 0;
    for (const Insn& i : c->insns) {
      bad += i.off != off;
      off += i.len;
    }
    bad += off != c->code.size();
  }
  BOOST_TEST(bad == 0u);
}
