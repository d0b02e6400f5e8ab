// Issue 14, the virtualization holes: the sensitive-but-unprivileged instructions on the
// simulated CPU at CPL 0, deprivileged at CPL 3 (they leak the host's CR0, GDTR, IDTR, TR and
// lose POPF's IF without a fault), and under SVM with the intercept that closes each hole
// (#VMEXIT before the instruction: RIP at it, nRIP past it, nothing written), and as a VMX
// guest at CPL 0 with descriptor-table exiting, CPUID's unconditional exit and a CR0 read shadow
// (Intel SDM vol. 3C §26.1.2, §26.1.3, §26.3, §28.2.1, §28.2.5).
#define BOOST_TEST_MODULE cpu_holes
#include <boost/test/unit_test.hpp>

#include "tests/platform/sim/cpu/holes_vmx_rig.hpp"

using namespace redoubt::test::holes;
using redoubt::test::BareCpu;
namespace s = redoubt::svm;

namespace {
Case find(const std::string& name) {
  for (const Case& k : cases())
    if (name == k.name) return k;
  throw std::runtime_error("no case " + name);
}
constexpr uint64_t kNotWritten = 0xCCCCCCCCCCCCCCCCull;
// Ran to the next instruction without a fault or an exit.
void completed(const Case& k, const Outcome& o) {
  BOOST_TEST(int(o.stop) == int(cpu::Stop::budget));
  BOOST_TEST(o.rip == BareCpu::kCode + k.code.size());
}
// #VMEXIT with `code` before the instruction executed.
void exited(const Case& k, const Outcome& o, uint64_t code) {
  BOOST_TEST(int(o.stop) == int(cpu::Stop::vmexit));
  BOOST_TEST(o.exitcode == code);
  BOOST_TEST(o.rip == BareCpu::kCode);
  BOOST_TEST(o.nrip == BareCpu::kCode + k.code.size());
  BOOST_TEST(le(o.mem, 8) == kNotWritten);
  BOOST_TEST(le(o.mem + 8, 8) == kNotWritten);
  BOOST_TEST(o.rax == k.rax);
}
}  // namespace

BOOST_AUTO_TEST_CASE(smsw_leaks_the_host_cr0_at_cpl3_and_the_cr0_read_intercept_closes_it) {
  for (const char* n : {"SMSW rax", "SMSW [rax]"}) {
    const Case k = find(n);
    for (Where w : {Where::cpl0, Where::cpl3}) {
      const Outcome o = run(k, w);
      completed(k, o);
      if (k.code.size() == 4) BOOST_TEST(o.rax == kHostCr0);  // r64: all of CR0
      else BOOST_TEST(le(o.mem, 8) == 0xCCCCCCCCCCCC0011ull);  // m16: CR0[15:0] only
    }
    exited(k, run(k, Where::svm), s::kExitCr0Read);
  }
}

BOOST_AUTO_TEST_CASE(sgdt_sidt_store_ten_bytes_of_the_host_tables_at_any_cpl) {
  const Case g = find("SGDT [rax]"), i = find("SIDT [rax]");
  for (Where w : {Where::cpl0, Where::cpl3}) {
    const Outcome og = run(g, w), oi = run(i, w);
    completed(g, og);
    completed(i, oi);
    BOOST_TEST(le(og.mem, 2) == 0x6Fu);
    BOOST_TEST(le(og.mem + 2, 8) == BareCpu::kGdt);
    BOOST_TEST(le(oi.mem, 2) == 0xFFFu);
    BOOST_TEST(le(oi.mem + 2, 8) == BareCpu::kIdt);
    BOOST_TEST(le(oi.mem + 10, 6) == 0xCCCCCCCCCCCCull);  // 10 bytes in 64-bit mode, no more
  }
  exited(g, run(g, Where::svm), s::kExitGdtrRead);
  exited(i, run(i, Where::svm), s::kExitIdtrRead);
}

BOOST_AUTO_TEST_CASE(sldt_str_store_the_host_selectors) {
  const Case l = find("SLDT [rax]"), tr = find("STR eax"), tm = find("STR [rax]");
  for (Where w : {Where::cpl0, Where::cpl3}) {
    const Outcome ol = run(l, w), ot = run(tr, w), om = run(tm, w);
    completed(l, ol);
    BOOST_TEST(le(ol.mem, 8) == 0xCCCCCCCCCCCC0000ull);  // LDTR null, 16 bits stored
    completed(tr, ot);
    BOOST_TEST(ot.rax == kTss);  // a 32-bit destination zero-extends
    completed(tm, om);
    BOOST_TEST(le(om.mem, 8) == (0xCCCCCCCCCCCC0000ull | kTss));
  }
  exited(l, run(l, Where::svm), s::kExitLdtrRead);
  exited(tr, run(tr, Where::svm), s::kExitTrRead);
  exited(tm, run(tm, Where::svm), s::kExitTrRead);
}

BOOST_AUTO_TEST_CASE(popf_at_cpl3_silently_keeps_if_and_pushf_shows_the_real_if) {
  const Case pop = find("POPFQ (IF=0 popped)"), push = find("PUSHFQ");
  const Outcome p0 = run(pop, Where::cpl0), p3 = run(pop, Where::cpl3);
  completed(pop, p0);
  completed(pop, p3);
  BOOST_TEST(p0.rflags == 0x2u);    // CPL 0: IF cleared
  BOOST_TEST(p3.rflags == 0x202u);  // CPL 3 > IOPL 0: IF unchanged, no #GP (the hole)
  for (Where w : {Where::cpl0, Where::cpl3}) {
    const Outcome o = run(push, w);
    completed(push, o);
    BOOST_TEST(o.stack_top == 0x202u);  // the real IF, whatever the guest believes
  }
  const Outcome ep = run(pop, Where::svm), eu = run(push, Where::svm);
  exited(pop, ep, s::kExitPopf);
  BOOST_TEST(ep.rflags == 0x202u);
  BOOST_TEST(ep.rsp == BareCpu::kStackTop - 0x100);  // nothing popped
  exited(push, eu, s::kExitPushf);
  BOOST_TEST(eu.stack_top == 0x2u);  // nothing pushed: RSP unchanged, its qword is the one placed there
}

BOOST_AUTO_TEST_CASE(lar_lsl_verr_verw_tell_a_deprivileged_kernel_it_is_not_at_cpl0) {
  const Case lar = find("LAR eax, ecx (0x18)"), lsl = find("LSL eax, ecx (0x10)");
  const Case verr = find("VERR cx (0x10)"), verw = find("VERW cx (0x10)");
  const Outcome a0 = run(lar, Where::cpl0), a3 = run(lar, Where::cpl3);
  completed(lar, a0);
  BOOST_TEST((a0.rflags & cpu::kZF) != 0u);
  BOOST_TEST(a0.rax == 0x00A09A00u);  // 0x00AF9A00 & 0x00F0FF00, zero-extended
  completed(lar, a3);
  BOOST_TEST((a3.rflags & cpu::kZF) == 0u);  // DPL 0 < CPL 3
  BOOST_TEST(a3.rax == lar.rax);             // destination unchanged
  const Outcome l0 = run(lsl, Where::cpl0), l3 = run(lsl, Where::cpl3);
  BOOST_TEST((l0.rflags & cpu::kZF) != 0u);
  BOOST_TEST(l0.rax == 0xFFFFFFFFu);  // G = 1: limit FFFFFh << 12 | FFFh
  BOOST_TEST((l3.rflags & cpu::kZF) == 0u);
  BOOST_TEST(l3.rax == lsl.rax);
  for (const Case* k : {&verr, &verw}) {
    BOOST_TEST((run(*k, Where::cpl0).rflags & cpu::kZF) != 0u);
    BOOST_TEST((run(*k, Where::cpl3).rflags & cpu::kZF) == 0u);
  }
}

BOOST_AUTO_TEST_CASE(descriptor_checks_follow_the_type_and_rpl_rules) {
  Case k = find("LAR eax, ecx (0x18)");
  auto zf = [&](uint16_t sel, Where w = Where::cpl0) {
    k.rcx = sel;
    return (run(k, w).rflags & cpu::kZF) != 0;
  };
  BOOST_TEST(!zf(0));           // null selector
  BOOST_TEST(!zf(0x70));        // beyond the GDT limit 0x6F
  BOOST_TEST(!zf(0x1C));        // TI = 1: no LDT
  BOOST_TEST(zf(0x48));         // busy 64-bit TSS
  BOOST_TEST(!zf(0x50));        // the TSS's upper half: type 0 is not valid
  BOOST_TEST(zf(0x30));         // not present: P is not checked
  BOOST_TEST(zf(0x63, Where::cpl3));  // DPL 3 code from CPL 3
  BOOST_TEST(!zf(0x1B));        // RPL 3 > DPL 0
  k.rcx = 0x48;
  BOOST_TEST(run(k, Where::cpl0).rax == 0x8B00u);
  Case ls = find("LSL eax, ecx (0x10)");
  ls.rcx = 0x48;
  BOOST_TEST(run(ls, Where::cpl0).rax == 0x67u);  // byte-granular TSS limit
  Case vw = find("VERW cx (0x10)");
  vw.rcx = 0x18;  // code is never writable
  BOOST_TEST((run(vw, Where::cpl0).rflags & cpu::kZF) == 0u);
  vw.rcx = 0x5B;  // DPL 3 writable data from CPL 3
  BOOST_TEST((run(vw, Where::cpl3).rflags & cpu::kZF) != 0u);
  Case vr = find("VERR cx (0x10)");
  vr.rcx = 0x48;  // system descriptor
  BOOST_TEST((run(vr, Where::cpl0).rflags & cpu::kZF) == 0u);
  vr.rcx = 0x18;  // readable code
  BOOST_TEST((run(vr, Where::cpl0).rflags & cpu::kZF) != 0u);
}

BOOST_AUTO_TEST_CASE(cpuid_is_the_same_at_both_cpls_and_exits_when_intercepted) {
  const Case k = find("CPUID (leaf 0)");
  const Outcome a = run(k, Where::cpl0), b = run(k, Where::cpl3);
  completed(k, a);
  completed(k, b);
  BOOST_TEST(a.rax == b.rax);
  BOOST_TEST(a.rax != 0u);  // the highest standard leaf
  exited(k, run(k, Where::svm), s::kExitCpuid);
}

BOOST_AUTO_TEST_CASE(smsw_register_widths) {
  Case k = find("SMSW rax");
  k.code = {0x66, 0x0F, 0x01, 0xE0};  // smsw ax: CR0[15:0], RAX[63:16] kept
  BOOST_TEST(run(k, Where::cpl3).rax == 0x1111111111110011ull);
  k.code = {0x0F, 0x01, 0xE0};  // smsw eax: CR0[31:0] zero-extended
  BOOST_TEST(run(k, Where::cpl3).rax == 0x80000011ull);
}

// ---- VMX column (holes_vmx_rig.hpp) ----
namespace {
namespace v = redoubt::vmx;
// A VM exit with `reason` before the instruction executed: guest RIP at it, its length, nothing written.
void vm_exited(const Case& k, const VmxOutcome& o, uint64_t reason) {
  BOOST_TEST(!o.host_fault);
  BOOST_TEST(o.reason == reason);
  BOOST_TEST(o.guest_rip == redoubt::test::VmxRig::kGuestRip);
  BOOST_TEST(o.length == k.code.size());
  BOOST_TEST(le(o.mem, 8) == kNotWritten);
  BOOST_TEST(le(o.mem + 8, 8) == kNotWritten);
  BOOST_TEST(o.rax == k.rax);
}
void vm_completed(const Case& k, const VmxOutcome& o) {
  BOOST_TEST(!o.host_fault);
  BOOST_TEST(o.completed(k));
}
}  // namespace

// Tables 28-10 / 28-11 (§28.2.5): [rax] in 64-bit mode = address size 2 (bits 9:7), segment DS (3,
// bits 17:15), no index (bit 22), base RAX (0, bits 26:23); 0F 01 without 66h: operand size 32 (bit 11).
BOOST_AUTO_TEST_CASE(vmx_descriptor_table_exiting_closes_sgdt_sidt_sldt_str_with_exits_46_47) {
  struct Want { const char* name; uint64_t reason, info; };
  for (const Want& w : {Want{"SGDT [rax]", v::kExitGdtrIdtrAccess, 0x00418900},   // identity 0 SGDT
                        Want{"SIDT [rax]", v::kExitGdtrIdtrAccess, 0x10418900},   // identity 1 SIDT
                        Want{"SLDT [rax]", v::kExitLdtrTrAccess, 0x00418100},     // identity 0 SLDT, memory
                        Want{"STR [rax]", v::kExitLdtrTrAccess, 0x10418100},      // identity 1 STR, memory
                        // register form: bit 10 = 1, Reg1 (6:3) = 0 (EAX); index/base marked invalid
                        Want{"STR eax", v::kExitLdtrTrAccess, 0x18400500}}) {
    BOOST_TEST_CONTEXT(w.name) {
      const Case k = find(w.name);
      const VmxOutcome o = run_vmx(k);
      vm_exited(k, o, w.reason);
      BOOST_TEST(o.qual == 0u);  // no displacement (§28.2.1)
      BOOST_TEST(o.info == w.info);
    }
  }
}

BOOST_AUTO_TEST_CASE(vmx_cpuid_exits_unconditionally_smsw_reads_the_cr0_shadow_without_an_exit) {
  vm_exited(find("CPUID (leaf 0)"), run_vmx(find("CPUID (leaf 0)")), v::kExitCpuid);
  const Case r = find("SMSW rax"), m = find("SMSW [rax]");
  const VmxOutcome o = run_vmx(r), om = run_vmx(m);
  vm_completed(r, o);
  BOOST_TEST(o.rax == kHostCr0);  // 0x80000031 with NE from the shadow (0): what the guest kernel wrote
  BOOST_TEST(kVmxRealCr0 != kHostCr0);
  vm_completed(m, om);
  BOOST_TEST(le(om.mem, 8) == 0xCCCCCCCCCCCC0011ull);
}

BOOST_AUTO_TEST_CASE(vmx_guest_at_cpl0_needs_no_exit_for_popf_pushf_lar_lsl_verr_verw) {
  const Case pop = find("POPFQ (IF=0 popped)"), push = find("PUSHFQ");
  const VmxOutcome p = run_vmx(pop), u = run_vmx(push);
  vm_completed(pop, p);
  BOOST_TEST(p.rflags == 0x2u);  // IF cleared: the guest kernel really disabled interrupts
  vm_completed(push, u);
  BOOST_TEST(u.stack_top == 0x202u);
  const Case lar = find("LAR eax, ecx (0x18)"), lsl = find("LSL eax, ecx (0x10)");
  const VmxOutcome a = run_vmx(lar), l = run_vmx(lsl);
  vm_completed(lar, a);
  BOOST_TEST(a.rax == 0x00A09A00u);
  BOOST_TEST((a.rflags & cpu::kZF) != 0u);
  vm_completed(lsl, l);
  BOOST_TEST(l.rax == 0xFFFFFFFFu);
  for (const char* n : {"VERR cx (0x10)", "VERW cx (0x10)"}) {
    const VmxOutcome o = run_vmx(find(n));
    vm_completed(find(n), o);
    BOOST_TEST((o.rflags & cpu::kZF) != 0u);
  }
}
