// Descriptor-table exiting on the simulated VMX model (Intel SDM vol. 3C §26.1.3): with the
// secondary control LGDT/LIDT/SGDT/SIDT exit with reason 46 and LLDT/LTR/SLDT/STR with 47,
// before the instruction executes; the exit qualification is the displacement (§28.2.1) and
// the VM-exit instruction-information field has the layout of Table 28-10 / 28-11 (§28.2.5).
// The virtualization-holes table (tests/platform/sim/cpu/holes_test.cpp) covers the read forms.
#define BOOST_TEST_MODULE vmx_desc_table
#include <boost/test/unit_test.hpp>

#include "arch/vmx/exit_reasons.hpp"
#include "platform/sim/vmx/insn_info.hpp"
#include "tests/platform/sim/vmx/vmx_rig.hpp"

using namespace redoubt;
using test::VmxRig;
namespace op = test::op;
namespace v = redoubt::vmx;
namespace svmx = redoubt::sim::vmx;
using svmx::DtExitInfo;
using svmx::DtInsn;

namespace {

DtExitInfo decode(std::vector<uint8_t> b, unsigned bits, bool gi, DtInsn id, bool* ok = nullptr) {
  DtExitInfo d;
  const bool r = svmx::decode_dt_exit(b.data(), b.size(), bits, gi, id, d);
  if (ok) *ok = r;
  else BOOST_TEST(r);
  return d;
}

// A 64-bit guest at CPL 0 running `code` + HLT (HLT exiting) with descriptor-table exiting on or off.
struct DtRig : VmxRig {
  explicit DtRig(const std::vector<uint8_t>& code, bool exiting = true) {
    valid_vmcs();
    set(v::kSecondaryProcControls, v::proc2::kEnableVpid | (exiting ? v::proc2::kDescriptorTableExiting : 0));
    std::vector<uint8_t> b = code;
    b.push_back(0xF4);
    mem.write(kGuestRip, b);
    for (unsigned i = 0; i < 16; ++i) *mem.map(kOperand + i, 1) = 0xCC;
    c.gpr[sim::cpu::RAX] = kOperand;
    run(op::vmlaunch);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_model_offers_descriptor_table_exiting_in_procbased_ctls2) {
  uint64_t v2 = 0;
  BOOST_TEST(svmx::capability_msr(v::kMsrVmxProcbasedCtls2, v2));
  BOOST_TEST(((v2 >> 32) & v::proc2::kDescriptorTableExiting) != 0u);  // allowed-1 (A.3.3)
  BOOST_TEST((v2 & v::proc2::kDescriptorTableExiting) == 0u);          // not fixed to 1
}

// Table 28-10, bits: scale 1:0, address size 9:7, operand size 11, segment 17:15, index 21:18,
// index invalid 22, base 26:23, base invalid 27, identity 29:28.
BOOST_AUTO_TEST_CASE(instruction_information_for_sgdt_sidt_lgdt_lidt_follows_table_28_10) {
  // SGDT [rsp+8]: SIB base RSP -> segment SS (2); disp8 8.
  DtExitInfo d = decode({0x0F, 0x01, 0x44, 0x24, 0x08}, 64, true, DtInsn::sgdt);
  BOOST_TEST(d.info == 0x02410900u);
  BOOST_TEST(d.qual == 8u);
  // GS: REX.X SIDT [rbx + r9*4 - 16]: scale 2, index 9, base 3, GS (5), disp32 sign-extended.
  d = decode({0x65, 0x42, 0x0F, 0x01, 0x8C, 0x8B, 0xF0, 0xFF, 0xFF, 0xFF}, 64, true, DtInsn::sidt);
  BOOST_TEST(d.info == 0x11A68902u);
  BOOST_TEST(d.qual == 0xFFFFFFFFFFFFFFF0ull);
  // 16-bit code, LGDT [bp+4]: address size 0, operand size 16 (bit 11 = 0), base BP (5), SS.
  d = decode({0x0F, 0x01, 0x56, 0x04}, 16, true, DtInsn::lgdt);
  BOOST_TEST(d.info == 0x22C10000u);
  BOOST_TEST(d.qual == 4u);
  // 32-bit code, 66h LIDT [ebx+esi*8]: operand size 16, scale 3, index 6, base 3, DS.
  d = decode({0x66, 0x0F, 0x01, 0x1C, 0xF3}, 32, true, DtInsn::lidt);
  BOOST_TEST(d.info == 0x31998083u);
  BOOST_TEST(d.qual == 0u);
}

// Table 28-11: Reg1 6:3 and Mem/Reg 10 (1 = register) instead of the operand size.
BOOST_AUTO_TEST_CASE(instruction_information_for_sldt_str_lldt_ltr_follows_table_28_11) {
  // 67h LLDT [rip+0x1000] in 64-bit mode: address size 32 (1), no base, no index, DS.
  DtExitInfo d = decode({0x67, 0x0F, 0x00, 0x15, 0x00, 0x10, 0x00, 0x00}, 64, false, DtInsn::lldt);
  BOOST_TEST(d.info == 0x28418080u);
  BOOST_TEST(d.qual == 0x1000u);
  // LTR r10w (REX.B, register form): Reg1 = 10, bit 10 set, qualification 0.
  d = decode({0x41, 0x0F, 0x00, 0xDA}, 64, false, DtInsn::ltr);
  BOOST_TEST(d.info == 0x38400550u);  // identity 3, base/index invalid (undefined for registers), Reg1 10
  BOOST_TEST(d.qual == 0u);
}

BOOST_AUTO_TEST_CASE(bytes_that_are_not_one_of_the_eight_instructions_are_rejected) {
  bool ok = true;
  decode({0x0F, 0x01, 0xE0}, 64, true, DtInsn::sgdt, &ok);  // SMSW (0F 01 /4)
  BOOST_TEST(!ok);
  decode({0x0F, 0x01, 0xC1}, 64, true, DtInsn::sgdt, &ok);  // VMCALL (0F 01 mod 3)
  BOOST_TEST(!ok);
  decode({0x0F, 0x01}, 64, true, DtInsn::sgdt, &ok);  // truncated
  BOOST_TEST(!ok);
  decode({0x0F, 0x00, 0x00}, 64, true, DtInsn::sgdt, &ok);  // SLDT's opcode for an exit 46
  BOOST_TEST(!ok);
  decode({0x0F, 0x01, 0x84, 0x24, 0x01}, 64, true, DtInsn::sgdt, &ok);  // disp32 cut short
  BOOST_TEST(!ok);
}

BOOST_AUTO_TEST_CASE(lgdt_in_the_guest_exits_46_before_loading_and_sgdt_runs_without_the_control) {
  DtRig r({0x0F, 0x01, 0x50, 0x10});  // LGDT [rax+0x10]
  BOOST_TEST(r.fault() == -1);
  BOOST_TEST(r.field(v::kExitReason) == uint64_t(v::kExitGdtrIdtrAccess));
  BOOST_TEST(r.field(v::kExitQualification) == 0x10u);
  BOOST_TEST(r.field(v::kExitInstructionInfo) == 0x20418900u);  // identity 2 LGDT, base RAX, no index, DS, 64-bit
  BOOST_TEST(r.field(v::kExitInstructionLength) == 4u);
  BOOST_TEST(r.field(v::kGuestRip) == VmxRig::kGuestRip);
  BOOST_TEST(r.field(v::kGuestGdtrBase) == VmxRig::kGdt);  // not loaded
  BOOST_TEST(r.field(v::kGuestGdtrLimit) == 0x47u);
  DtRig off({0x0F, 0x01, 0x00}, false);  // SGDT [rax]: runs, the guest's own GDTR
  BOOST_TEST(off.field(v::kExitReason) == uint64_t(v::kExitHlt));
  BOOST_TEST(off.rd64(VmxRig::kOperand) == (0x47u | (VmxRig::kGdt << 16)));
}

BOOST_AUTO_TEST_CASE(ltr_in_the_guest_exits_47_with_the_register_in_reg1) {
  DtRig r({0x0F, 0x00, 0xD9});  // LTR cx
  BOOST_TEST(r.fault() == -1);
  BOOST_TEST(r.field(v::kExitReason) == uint64_t(v::kExitLdtrTrAccess));
  BOOST_TEST(r.field(v::kExitQualification) == 0u);
  BOOST_TEST(r.field(v::kExitInstructionInfo) == 0x38400508u);  // identity 3 LTR, register, Reg1 = 1 (ECX)
  BOOST_TEST(r.field(v::kGuestTrSelector) == 0x48u);               // TR unchanged
}
