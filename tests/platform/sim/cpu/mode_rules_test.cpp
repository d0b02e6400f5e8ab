// Mode rules of the simulated CPU: the long-mode consistency checks on CR0 and
// EFER (AMD APM vol. 2 §14.6-§14.7), segment loads and their faults, segment
// bases and 32-bit wrap-around, 1 GiB pages, the mode-aware block cache and
// the clear refusal of what is not modelled.
#define BOOST_TEST_MODULE cpu_mode_rules
#include <boost/test/unit_test.hpp>

#include "tests/platform/sim/cpu/bare_cpu.hpp"

using namespace redoubt;
using namespace redoubt::x86;
using sim::cpu::Mode;
using sim::cpu::Stop;
using test::BareCpu;
namespace cpu = redoubt::sim::cpu;

namespace {

constexpr uint64_t kHandler = 0x110000;

// Handler for a vector with an error code: RAX = error code, R15 = vector, HLT.
void install_handler(BareCpu& b, uint8_t vector) {
  const uint8_t h[] = {0x58, 0x41, 0xBF, vector, 0, 0, 0, 0xF4};  // pop rax; mov r15d, vector; hlt
  b.mem.write(kHandler + 16 * vector, h);
  b.idt_gate(vector, kHandler + 16 * vector);
}

template <size_t N> void put(BareCpu& b, uint64_t at, const uint8_t (&code)[N]) { b.mem.write(at, code); }

std::string run_expecting_error(BareCpu& b) {
  try {
    b.c.run(1000);
  } catch (const cpu::CpuError& e) {
    return e.what();
  }
  return "(no CpuError)";
}

// 32-bit: EFER.LME = 1, then CR0.PG = 1 with CR4.PAE = 0.
constexpr uint8_t kPagingWithoutPae[] = {
    0xB9, 0x80, 0x00, 0x00, 0xC0,  // mov ecx, 0xC0000080
    0x0F, 0x32,                    // rdmsr
    0x0D, 0x00, 0x01, 0x00, 0x00,  // or eax, LME
    0x0F, 0x30,                    // wrmsr
    0x0F, 0x20, 0xC0,              // mov eax, cr0
    0x0D, 0x00, 0x00, 0x00, 0x80,  // or eax, PG
    0x0F, 0x22, 0xC0,              // mov cr0, eax   (+22)
    0xF4};

}  // namespace

BOOST_AUTO_TEST_CASE(enabling_paging_with_lme_and_no_pae_is_gp) {
  BareCpu b;
  put(b, BareCpu::kCode, kPagingWithoutPae);
  b.skinit_state(BareCpu::kCode, 0);
  // #GP(0) in legacy mode; legacy IDT delivery is not modelled, so the run stops naming the vector.
  const std::string err = run_expecting_error(b);
  BOOST_TEST(err.find("vector 13") != std::string::npos, err);
  BOOST_TEST(b.c.rip() == BareCpu::kCode + 22);  // the faulting MOV CR0
  BOOST_TEST((b.c.cr0 & kCr0Pg) == 0u);
  BOOST_TEST((b.c.efer & (kEferLme | kEferLma)) == kEferLme);
  // With PAE the same sequence activates long mode, in compatibility mode (CS.L = 0).
  BareCpu ok;
  put(ok, BareCpu::kCode, kPagingWithoutPae);
  ok.identity_map_1g();
  ok.skinit_state(BareCpu::kCode, 0);
  ok.c.cr4 = kCr4Pae;
  ok.c.cr3 = BareCpu::kPml4;
  BOOST_TEST(int(ok.c.run(1000)) == int(Stop::halted));
  BOOST_TEST((ok.c.efer & kEferLma) != 0u);
  BOOST_TEST(int(ok.c.mode()) == int(Mode::compat32));
}

BOOST_AUTO_TEST_CASE(long_mode_consistency_faults) {
  // WRMSR clearing EFER.LME while paging is on: #GP(0).
  {
    BareCpu b;
    const uint8_t code[] = {0xB9, 0x80, 0x00, 0x00, 0xC0, 0x0F, 0x32, 0x25, 0xFF, 0xFE, 0xFF, 0xFF, 0x0F, 0x30, 0xF4};
    put(b, BareCpu::kCode, code);
    b.long_mode_state(BareCpu::kCode);
    install_handler(b, 13);
    BOOST_TEST(int(b.c.run(1000)) == int(Stop::halted));
    BOOST_TEST(b.c.gpr[cpu::R15] == 13u);
    BOOST_TEST(b.c.gpr[cpu::RAX] == 0u);
    BOOST_TEST((b.c.efer & kEferLme) != 0u);
  }
  // MOV CR0 clearing PG in 64-bit mode: #GP(0) (long mode is left from compatibility mode only).
  {
    BareCpu b;
    const uint8_t code[] = {0x0F, 0x20, 0xC0, 0x25, 0xFF, 0xFF, 0xFF, 0x7F, 0x0F, 0x22, 0xC0, 0xF4};
    put(b, BareCpu::kCode, code);
    b.long_mode_state(BareCpu::kCode);
    install_handler(b, 13);
    BOOST_TEST(int(b.c.run(1000)) == int(Stop::halted));
    BOOST_TEST(b.c.gpr[cpu::R15] == 13u);
    BOOST_TEST((b.c.cr0 & kCr0Pg) != 0u);
  }
}

BOOST_AUTO_TEST_CASE(clearing_pg_in_compatibility_mode_leaves_long_mode) {
  BareCpu b;
  const uint8_t code64[] = {0x6A, 0x08,                          // push 0x08
                            0x68, 0x00, 0x10, 0x10, 0x00,        // push 0x101000
                            0x48, 0xCB};                         // retfq
  const uint8_t code32[] = {0x0F, 0x20, 0xC0, 0x25, 0xFF, 0xFF, 0xFF, 0x7F, 0x0F, 0x22, 0xC0,  // clear PG
                            0x40, 0xF4};                                                       // inc eax; hlt
  put(b, BareCpu::kCode, code64);
  put(b, BareCpu::kCode + 0x1000, code32);
  b.long_mode_state(BareCpu::kCode);
  BOOST_TEST(int(b.c.run(1000)) == int(Stop::halted));
  BOOST_TEST((b.c.efer & (kEferLma | kEferLme)) == kEferLme);
  BOOST_TEST((b.c.cr0 & kCr0Pg) == 0u);
  BOOST_TEST(int(b.c.mode()) == int(Mode::legacy32));
  BOOST_TEST(b.c.gpr[cpu::RAX] == b.c.cr0 + 1);  // EAX = CR0, then 0x40 ran as INC EAX (not a REX prefix)
}

BOOST_AUTO_TEST_CASE(iretq_to_compatibility_mode_and_an_event_back_to_64_bit_mode) {
  BareCpu b;
  const uint8_t code64[] = {0x48, 0x89, 0xE0,                    // mov rax, rsp
                            0x6A, 0x10, 0x50, 0x9C,              // push 0x10; push rax; pushfq
                            0x6A, 0x08,                          // push 0x08 (32-bit code)
                            0x68, 0x00, 0x10, 0x10, 0x00,        // push 0x101000
                            0x48, 0xCF};                         // iretq
  const uint8_t code32[] = {0xCC};                               // int3 in compatibility mode
  put(b, BareCpu::kCode, code64);
  put(b, BareCpu::kCode + 0x1000, code32);
  b.long_mode_state(BareCpu::kCode);
  install_handler(b, 3);  // pops the return RIP into RAX (INT3 has no error code)
  BOOST_TEST(int(b.c.run(100)) == int(Stop::halted));
  BOOST_TEST(b.c.gpr[cpu::R15] == 3u);
  BOOST_TEST(b.c.gpr[cpu::RAX] == BareCpu::kCode + 0x1001);     // after the INT3
  BOOST_TEST(b.rd64(BareCpu::kStackTop - 40 + 8) == 0x08u);     // the 64-bit frame holds the compat CS
  BOOST_TEST(b.rd64(BareCpu::kStackTop - 40 + 24) == BareCpu::kStackTop);  // and ESP as IRETQ left it
  BOOST_TEST(b.c.cs.selector == 0x18u);
  BOOST_TEST(int(b.c.mode()) == int(Mode::long64));
}

BOOST_AUTO_TEST_CASE(a_block_decoded_in_one_mode_never_runs_in_another) {
  // 48 05 01 00 00 00: 64-bit "add rax, 1"; 32-bit "dec eax; add eax, 1".
  const uint8_t code[] = {0x48, 0x05, 0x01, 0x00, 0x00, 0x00, 0xF4};
  BareCpu b;
  put(b, BareCpu::kCode, code);
  b.skinit_state(BareCpu::kCode, 0);
  b.c.gpr[cpu::RAX] = 10;
  BOOST_TEST(int(b.c.run(100)) == int(Stop::halted));
  BOOST_TEST(b.c.gpr[cpu::RAX] == 10u);
  const uint64_t decoded = b.c.counters.blocks_decoded;
  b.long_mode_state(BareCpu::kCode);
  b.c.halted = false;
  b.c.gpr[cpu::RAX] = 10;
  BOOST_TEST(int(b.c.run(100)) == int(Stop::halted));
  BOOST_TEST(b.c.gpr[cpu::RAX] == 11u);
  BOOST_TEST(b.c.counters.blocks_decoded == decoded + 1);  // decoded again for 64-bit mode
  // Back in 32-bit mode the 32-bit block is found again (same physical address, its own key).
  b.skinit_state(BareCpu::kCode, 0);
  b.c.halted = false;
  b.c.gpr[cpu::RAX] = 10;
  BOOST_TEST(int(b.c.run(100)) == int(Stop::halted));
  BOOST_TEST(b.c.gpr[cpu::RAX] == 10u);
  BOOST_TEST(b.c.counters.blocks_decoded == decoded + 1);
}

BOOST_AUTO_TEST_CASE(segment_bases_apply_and_linear_addresses_wrap_outside_64_bit_mode) {
  BareCpu b;
  const uint8_t code[] = {0x66, 0xB8, 0x28, 0x00,              // mov ax, 0x28 (data, base 0x2000)
                          0x8E, 0xD8,                          // mov ds, ax
                          0xA1, 0x00, 0xF8, 0xFF, 0xFF,        // mov eax, [0xFFFFF800] -> linear 0x1800
                          0x8B, 0x1D, 0x00, 0x01, 0x00, 0x00,  // mov ebx, [0x100]     -> linear 0x2100
                          0xF4};
  put(b, BareCpu::kCode, code);
  b.wr64(0x1800, 0xCAFEF00D);
  b.wr64(0x2100, 0x5EB5EB5E);
  b.skinit_state(BareCpu::kCode, 0);
  BOOST_TEST(int(b.c.run(100)) == int(Stop::halted));
  BOOST_TEST(b.c.gpr[cpu::RAX] == 0xCAFEF00Du);
  BOOST_TEST(b.c.gpr[cpu::RBX] == 0x5EB5EB5Eu);
  BOOST_TEST(b.c.ds.base == 0x2000u);
  BOOST_TEST((b.gdt_entry(0x28) >> 40 & 1) == 1u);  // accessed bit set by the load
  // In 64-bit mode the DS base is ignored (APM vol. 2 §4.5.3).
  const uint8_t code64[] = {0x8B, 0x04, 0x25, 0x00, 0x21, 0x00, 0x00, 0xF4};  // mov eax, [0x2100]
  BareCpu l;
  put(l, BareCpu::kCode, code64);
  l.wr64(0x2100, 0x64);
  l.long_mode_state(BareCpu::kCode);
  l.c.load_segment_cache(l.c.ds, l.c.read_descriptor(0x28));
  BOOST_TEST(int(l.c.run(100)) == int(Stop::halted));
  BOOST_TEST(l.c.gpr[cpu::RAX] == 0x64u);
}

BOOST_AUTO_TEST_CASE(eip_wraps_at_4_gib) {
  BareCpu b;
  const uint8_t jump[] = {0xEA, 0xFE, 0xFF, 0xFF, 0xFF, 0x40, 0x00};  // jmp 0x40:0xFFFFFFFE (CS base 1 MiB)
  const uint8_t nops[] = {0x90, 0x90};                                // EIP 0xFFFFFFFE, 0xFFFFFFFF: linear 0xFFFFE
  const uint8_t hlt[] = {0xF4};                                       // EIP 0: linear 0x100000
  put(b, 0x200000, jump);
  put(b, 0xFFFFE, nops);
  put(b, 0x100000, hlt);
  b.skinit_state(0x200000, 0);
  BOOST_TEST(int(b.c.run(100)) == int(Stop::halted));
  BOOST_TEST(b.c.cs.selector == 0x40u);
  BOOST_TEST(b.c.cs.base == 0x100000u);
  BOOST_TEST(b.c.rip() == 1u);  // after the HLT at EIP 0
}

BOOST_AUTO_TEST_CASE(pop_and_push_segment_registers_in_32_bit_code) {
  BareCpu b;
  const uint8_t code[] = {0x6A, 0x28,  // push 0x28
                          0x1F,        // pop ds
                          0x0E,        // push cs
                          0x0F, 0xA9,  // pop gs: a code selector in GS is fine if readable
                          0x1E,        // push ds
                          0x58,        // pop eax
                          0xF4};
  put(b, BareCpu::kCode, code);
  b.skinit_state(BareCpu::kCode, 0);
  const uint64_t esp0 = b.c.gpr[cpu::RSP];
  BOOST_TEST(int(b.c.run(100)) == int(Stop::halted));
  BOOST_TEST(b.c.ds.selector == 0x28u);
  BOOST_TEST(b.c.ds.base == 0x2000u);
  BOOST_TEST(b.c.gs.selector == 0x08u);
  BOOST_TEST(b.c.gpr[cpu::RAX] == 0x28u);  // 4-byte slot, selector zero-extended
  BOOST_TEST(b.c.gpr[cpu::RSP] == esp0);
}

BOOST_AUTO_TEST_CASE(segment_loads_check_the_descriptor) {
  struct Case {
    uint16_t sel;
    uint8_t sreg_modrm;  // 8E /r: D8 = DS, D0 = SS
    uint8_t vector;
    uint32_t error;
  };
  const Case cases[] = {
      {0x30, 0xD8, 11, 0x30},  // not present: #NP(sel)
      {0x30, 0xD0, 12, 0x30},  // SS not present: #SS(sel)
      {0x18, 0xD0, 13, 0x18},  // SS with a code segment: #GP(sel)
      {0x20, 0xD8, 0, 0},      // DS with a readable code segment: allowed
      {0x48, 0xD8, 13, 0x48},  // beyond the GDT limit: #GP(sel)
      {0x00, 0xD0, 0, 0},      // null SS: allowed in 64-bit mode at CPL 0 with RPL 0
  };
  for (const Case& k : cases) {
    BOOST_TEST_CONTEXT("selector " << k.sel << " modrm " << int(k.sreg_modrm)) {
      BareCpu b;
      const uint8_t code[] = {0x66, 0xB8, uint8_t(k.sel), 0x00, 0x8E, k.sreg_modrm, 0xF4};
      put(b, BareCpu::kCode, code);
      b.long_mode_state(BareCpu::kCode);
      for (uint8_t v : {11, 12, 13}) install_handler(b, v);
      b.c.gpr[cpu::R15] = 0xFF;
      BOOST_TEST(int(b.c.run(100)) == int(Stop::halted));
      if (k.vector == 0) {
        BOOST_TEST(b.c.gpr[cpu::R15] == 0xFFu);  // no fault
      } else {
        BOOST_TEST(b.c.gpr[cpu::R15] == k.vector);
        BOOST_TEST(b.c.gpr[cpu::RAX] == k.error);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(one_gib_pages_translate_and_check_reserved_bits) {
  BareCpu b;
  b.long_mode_state(BareCpu::kCode);
  b.wr64(BareCpu::kPdpt + 3 * 8, 0 | kPtePresent | kPteWrite | kPteLarge);  // 3 GiB -> physical 0
  b.c.flush_tlb_all_current();
  BOOST_TEST(b.c.translate(0xC0000000ull + 0x123456, cpu::kRead) == 0x123456u);
  BOOST_TEST(b.c.translate(0x40000000ull + 0x5000, cpu::kRead) == 0x40005000u);
  BOOST_TEST(b.c.tlb.lookup(0, 0xC0000000ull)->size_shift == 30u);
  // Bits 29:13 of a 1 GiB PDPTE are reserved (APM vol. 2 §5.3.4): #PF with RSVD.
  b.wr64(BareCpu::kPdpt + 2 * 8, (2ull << 30) | (1ull << 13) | kPtePresent | kPteLarge);
  try {
    b.c.translate(0x80000000ull, cpu::kRead);
    BOOST_FAIL("no fault");
  } catch (const cpu::GuestFault& f) {
    BOOST_TEST(f.vector == 14u);
    BOOST_TEST(f.error == (kPfPresent | kPfReserved));
  }
}

BOOST_AUTO_TEST_CASE(what_is_not_modelled_stops_with_a_clear_error) {
  {  // far JMP to a 16-bit code segment (CS.D = 0, L = 0)
    BareCpu b;
    const uint8_t code[] = {0xEA, 0x00, 0x10, 0x10, 0x00, 0x20, 0x00};  // jmp 0x20:0x101000
    put(b, BareCpu::kCode, code);
    b.skinit_state(BareCpu::kCode, 0);
    const std::string err = run_expecting_error(b);
    BOOST_TEST(err.find("16-bit code") != std::string::npos, err);
    BOOST_TEST(b.c.cs.selector == 0x20u);
  }
  {  // clearing CR0.PE
    BareCpu b;
    const uint8_t code[] = {0x0F, 0x20, 0xC0, 0x24, 0xFE, 0x0F, 0x22, 0xC0, 0xF4};  // and al, 0xFE
    put(b, BareCpu::kCode, code);
    b.skinit_state(BareCpu::kCode, 0);
    const std::string err = run_expecting_error(b);
    BOOST_TEST(err.find("real mode") != std::string::npos, err);
  }
  {  // 16-bit addressing (67h) in 32-bit code
    BareCpu b;
    const uint8_t code[] = {0x67, 0x8B, 0x07, 0xF4};  // mov eax, [bx]
    put(b, BareCpu::kCode, code);
    b.skinit_state(BareCpu::kCode, 0);
    const std::string err = run_expecting_error(b);
    BOOST_TEST(err.find("16-bit operand or address size") != std::string::npos, err);
  }
}
