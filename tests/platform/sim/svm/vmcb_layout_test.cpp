// The VMCB layout and exit codes of the contract headers, checked against a
// table typed from AMD APM vol. 2 Appendix B (Tables B-1, B-2) and Appendix C.
#define BOOST_TEST_MODULE svm_contract
#include <boost/test/unit_test.hpp>
#include <cstddef>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/intercepts.hpp"
#include "arch/svm/vmcb.hpp"

using namespace redoubt::svm;

namespace {
struct Field {
  const char* name;
  size_t header;
  size_t apm;
};
#define F(member, off) Field{#member, offsetof(Vmcb, member), off}
const Field kFields[] = {
    // Table B-1, control area.
    F(control.intercept_cr, 0x000), F(control.intercept_dr, 0x004), F(control.intercept_exc, 0x008),
    F(control.intercept_misc1, 0x00C), F(control.intercept_misc2, 0x010), F(control.pause_filter_thresh, 0x03C),
    F(control.pause_filter_count, 0x03E), F(control.iopm_base_pa, 0x040), F(control.msrpm_base_pa, 0x048),
    F(control.tsc_offset, 0x050), F(control.guest_asid, 0x058), F(control.tlb_control, 0x05C),
    F(control.vintr, 0x060), F(control.interrupt_shadow, 0x068), F(control.exitcode, 0x070),
    F(control.exitinfo1, 0x078), F(control.exitinfo2, 0x080), F(control.exitintinfo, 0x088),
    F(control.np_enable, 0x090), F(control.avic_apic_bar, 0x098), F(control.ghcb_gpa, 0x0A0),
    F(control.eventinj, 0x0A8), F(control.n_cr3, 0x0B0), F(control.lbr_virt, 0x0B8), F(control.vmcb_clean, 0x0C0),
    F(control.next_rip, 0x0C8), F(control.insn_len, 0x0D0), F(control.insn_bytes, 0x0D1),
    F(control.avic_backing_page, 0x0E0), F(control.avic_logical_table, 0x0F0),
    F(control.avic_physical_table, 0x0F8), F(control.vmsa_pa, 0x108),
    // Table B-2, state save area (offsets from the VMCB start).
    F(save.es, 0x400), F(save.cs, 0x410), F(save.ss, 0x420), F(save.ds, 0x430), F(save.fs, 0x440),
    F(save.gs, 0x450), F(save.gdtr, 0x460), F(save.ldtr, 0x470), F(save.idtr, 0x480), F(save.tr, 0x490),
    F(save.cpl, 0x4CB), F(save.efer, 0x4D0), F(save.cr4, 0x548), F(save.cr3, 0x550), F(save.cr0, 0x558),
    F(save.dr7, 0x560), F(save.dr6, 0x568), F(save.rflags, 0x570), F(save.rip, 0x578), F(save.rsp, 0x5D8),
    F(save.s_cet, 0x5E0), F(save.ssp, 0x5E8), F(save.isst_addr, 0x5F0), F(save.rax, 0x5F8), F(save.star, 0x600),
    F(save.lstar, 0x608), F(save.cstar, 0x610), F(save.sfmask, 0x618), F(save.kernel_gs_base, 0x620),
    F(save.sysenter_cs, 0x628), F(save.sysenter_esp, 0x630), F(save.sysenter_eip, 0x638), F(save.cr2, 0x640),
    F(save.g_pat, 0x668), F(save.dbgctl, 0x670), F(save.br_from, 0x678), F(save.br_to, 0x680),
    F(save.last_excp_from, 0x688), F(save.last_excp_to, 0x690),
};
#undef F
// Segment format (Table B-2): selector, attrib, limit, base.
const Field kSeg[] = {{"selector", offsetof(VmcbSegment, selector), 0}, {"attrib", offsetof(VmcbSegment, attrib), 2},
                      {"limit", offsetof(VmcbSegment, limit), 4}, {"base", offsetof(VmcbSegment, base), 8}};

struct Code {
  const char* name;
  uint64_t header;
  uint64_t apm;
};
#define C(id, v) Code{#id, id, v}
const Code kCodes[] = {  // Appendix C, Table C-1
    C(kExitCr0Read, 0x0), C(kExitCr0Write, 0x10), C(kExitDr0Read, 0x20), C(kExitDr0Write, 0x30),
    C(kExitExcp0, 0x40), C(kExitIntr, 0x60), C(kExitNmi, 0x61), C(kExitSmi, 0x62), C(kExitInit, 0x63),
    C(kExitVintr, 0x64), C(kExitCr0SelWrite, 0x65), C(kExitIdtrRead, 0x66), C(kExitGdtrRead, 0x67),
    C(kExitLdtrRead, 0x68), C(kExitTrRead, 0x69), C(kExitIdtrWrite, 0x6A), C(kExitGdtrWrite, 0x6B),
    C(kExitLdtrWrite, 0x6C), C(kExitTrWrite, 0x6D), C(kExitRdtsc, 0x6E), C(kExitRdpmc, 0x6F), C(kExitPushf, 0x70),
    C(kExitPopf, 0x71), C(kExitCpuid, 0x72), C(kExitRsm, 0x73), C(kExitIret, 0x74), C(kExitSwint, 0x75),
    C(kExitInvd, 0x76), C(kExitPause, 0x77), C(kExitHlt, 0x78), C(kExitInvlpg, 0x79), C(kExitInvlpga, 0x7A),
    C(kExitIoio, 0x7B), C(kExitMsr, 0x7C), C(kExitTaskSwitch, 0x7D), C(kExitFerrFreeze, 0x7E),
    C(kExitShutdown, 0x7F), C(kExitVmrun, 0x80), C(kExitVmmcall, 0x81), C(kExitVmload, 0x82),
    C(kExitVmsave, 0x83), C(kExitStgi, 0x84), C(kExitClgi, 0x85), C(kExitSkinit, 0x86), C(kExitRdtscp, 0x87),
    C(kExitIcebp, 0x88), C(kExitWbinvd, 0x89), C(kExitMonitor, 0x8A), C(kExitMwait, 0x8B),
    C(kExitMwaitConditional, 0x8C), C(kExitXsetbv, 0x8D), C(kExitRdpru, 0x8E), C(kExitEferWriteTrap, 0x8F),
    C(kExitCr0WriteTrap, 0x90), C(kExitInvlpgb, 0xA0), C(kExitInvlpgbIllegal, 0xA1), C(kExitInvpcid, 0xA2),
    C(kExitMcommit, 0xA3), C(kExitTlbsync, 0xA4), C(kExitNpf, 0x400), C(kExitAvicIncompleteIpi, 0x401),
    C(kExitAvicNoaccel, 0x402), C(kExitVmgexit, 0x403), C(kExitInvalid, 0xFFFFFFFFFFFFFFFFull),
    C(kExitBusy, 0xFFFFFFFFFFFFFFFEull),
};
#undef C
}  // namespace

BOOST_AUTO_TEST_CASE(vmcb_offsets_match_apm_appendix_b) {
  BOOST_TEST(sizeof(Vmcb) == 4096u);
  for (const Field& f : kFields) BOOST_TEST_CONTEXT(f.name) { BOOST_TEST(f.header == f.apm); }
  for (const Field& f : kSeg) BOOST_TEST_CONTEXT(f.name) { BOOST_TEST(f.header == f.apm); }
}

BOOST_AUTO_TEST_CASE(exit_codes_match_apm_appendix_c) {
  for (const Code& c : kCodes) BOOST_TEST_CONTEXT(c.name) { BOOST_TEST(c.header == c.apm); }
}

BOOST_AUTO_TEST_CASE(intercept_bits_match_apm_table_b1) {
  // Vector 3 (offset 0x00C) and vector 4 (offset 0x010) bit positions.
  BOOST_TEST(kInterceptIntr == 1u << 0);
  BOOST_TEST(kInterceptRdtsc == 1u << 14);
  BOOST_TEST(kInterceptCpuid == 1u << 18);
  BOOST_TEST(kInterceptHlt == 1u << 24);
  BOOST_TEST(kInterceptIoioProt == 1u << 27);
  BOOST_TEST(kInterceptMsrProt == 1u << 28);
  BOOST_TEST(kInterceptShutdown == 1u << 31);
  BOOST_TEST(kInterceptVmrun == 1u << 0);
  BOOST_TEST(kInterceptVmmcall == 1u << 1);
  BOOST_TEST(kInterceptSkinit == 1u << 6);
  BOOST_TEST(kInterceptRdtscp == 1u << 7);
  // IOIO EXITINFO1 (§15.10.2) and #NPF EXITINFO1 (§15.25.6).
  BOOST_TEST(ioio::kPortShift == 16u);
  BOOST_TEST(ioio::kSz8 == 1u << 4);
  BOOST_TEST(ioio::kA64 == 1u << 9);
  BOOST_TEST(npf::kFinalAddress == 1ull << 32);
  BOOST_TEST(npf::kPageWalk == 1ull << 33);
}
