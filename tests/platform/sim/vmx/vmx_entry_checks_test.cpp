// The VM-entry check table: one invalid control, host or guest state per row,
// each run through a real VMLAUNCH (or VMRESUME) executed by the simulated CPU,
// each asserting what the SDM specifies (Intel SDM vol. 3C, the edition of
// arch/vmx/sdm.hpp):
//   * §27.2.1 checks on VMX controls   -> VMfailValid, VM-instruction error 7
//   * §27.2.2/§27.2.3 host state       -> VMfailValid, VM-instruction error 8
//   * §27.3 guest state                -> VM-entry failure: host state loaded, exit reason
//                                         0x80000021 (33 | bit 31), exit qualification (§27.8)
//   * §27.4 loading MSRs               -> VM-entry failure, exit reason 0x80000022 (34 | bit 31),
//                                         qualification = the failing entry's 1-based index
//   * ch. 31 "VMLAUNCH/VMRESUME"       -> launch state errors 4 / 5, VMfailInvalid
#define BOOST_TEST_MODULE vmx_entry_checks
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <functional>
#include <ostream>

#include "arch/vmx/exit_reasons.hpp"
#include "tests/platform/sim/vmx/vmx_rig.hpp"

using namespace redoubt;
using test::VmxRig;
namespace v = redoubt::vmx;
namespace svmx = redoubt::sim::vmx;
namespace bdata = boost::unit_test::data;

namespace {

enum class Expect { fail_valid, entry_fail, fail_invalid };

struct Row {
  const char* name;
  const char* section;   // the SDM rule
  std::function<void(VmxRig&)> mutate;
  Expect expect;
  uint64_t number;       // fail_valid: VM-instruction error; entry_fail: exit qualification
  bool resume = false;   // VMRESUME instead of VMLAUNCH
  uint64_t exit_reason = 0x80000021;  // entry_fail: 33 | bit 31 (guest state), or 34 | bit 31 (MSR loading)
};
std::ostream& operator<<(std::ostream& os, const Row& r) { return os << r.name << " (" << r.section << ")"; }

// Field setters for the rows.
auto set(uint32_t enc, uint64_t val) {
  return [=](VmxRig& r) { r.set(enc, val); };
}
auto set_or(uint32_t enc, uint64_t bits) {
  return [=](VmxRig& r) { r.set(enc, r.field(enc) | bits); };
}
auto set_andnot(uint32_t enc, uint64_t bits) {
  return [=](VmxRig& r) { r.set(enc, r.field(enc) & ~bits); };
}
auto both(std::function<void(VmxRig&)> a, std::function<void(VmxRig&)> b) {
  return [=](VmxRig& r) { a(r); b(r); };
}
constexpr uint64_t kNonCanonical = 0x0000800000000000ull;
constexpr uint32_t kValid = v::intr_info::kValid;
constexpr uint32_t type(uint32_t t) { return t << v::intr_info::kTypeShift; }

const Expect V = Expect::fail_valid, G = Expect::entry_fail;
const uint64_t E7 = v::kErrEntryInvalidControls, E8 = v::kErrEntryInvalidHostState;
const uint64_t Q0 = v::kEntryFailDefault, Q4 = v::kEntryFailVmcsLinkPointer;

const Row kRows[] = {
    // ---- §27.2.1.1 VM-execution control fields -> error 7 ----
    {"pin-based default1 bit 1 cleared", "§27.2.1.1, A.3.1", set(v::kPinBasedControls, v::pin::kDefault1 & ~2u), V, E7},
    {"pin-based posted interrupts (allowed-1 = 0)", "§27.2.1.1, A.3.1", set_or(v::kPinBasedControls, v::pin::kPostedInterrupts), V, E7},
    {"primary default1 bit 1 cleared", "§27.2.1.1, A.3.2", set_andnot(v::kPrimaryProcControls, 2), V, E7},
    {"use TPR shadow (allowed-1 = 0)", "§27.2.1.1, A.3.2", set_or(v::kPrimaryProcControls, v::proc::kUseTprShadow), V, E7},
    {"secondary unrestricted guest (allowed-1 = 0)", "§27.2.1.1, A.3.3", set_or(v::kSecondaryProcControls, v::proc2::kUnrestrictedGuest), V, E7},
    {"CR3-target count 5 > 4", "§27.2.1.1", set(v::kCr3TargetCount, 5), V, E7},
    {"I/O bitmap A not 4 KiB aligned", "§27.2.1.1",
     both(set_or(v::kPrimaryProcControls, v::proc::kUseIoBitmaps), both(set(v::kIoBitmapA, 0x30800), set(v::kIoBitmapB, 0x31000))), V, E7},
    {"MSR bitmap beyond MAXPHYADDR", "§27.2.1.1",
     both(set_or(v::kPrimaryProcControls, v::proc::kUseMsrBitmaps), set(v::kMsrBitmap, 1ull << 48)), V, E7},
    {"virtual NMIs without NMI exiting", "§27.2.1.1", set_or(v::kPinBasedControls, v::pin::kVirtualNmis), V, E7},
    {"interrupt-window exiting (allowed-1 = 0)", "§27.2.1.1, A.3.2", set_or(v::kPrimaryProcControls, v::proc::kInterruptWindowExiting), V, E7},
    {"EPTP memory type 1 (WC)", "§27.2.1.1, Table 25-9", set(v::kEptPointer, 0x1F00000 | 1 | (3 << 3)), V, E7},
    {"EPTP page-walk length 5", "§27.2.1.1, Table 25-9", set(v::kEptPointer, 0x1F00000 | 6 | (4 << 3)), V, E7},
    {"EPTP reserved bit 8", "§27.2.1.1, Table 25-9", set(v::kEptPointer, 0x1F00000 | 6 | (3 << 3) | 0x100), V, E7},
    {"enable VPID with VPID 0", "§27.2.1.1", set(v::kVpid, 0), V, E7},
    // ---- §27.2.1.2 VM-exit control fields -> error 7 ----
    {"exit default1 bit 0 cleared", "§27.2.1.2, A.4.1", set_andnot(v::kExitControls, 1), V, E7},
    {"save preemption timer without activating it", "§27.2.1.2", set_or(v::kExitControls, v::exit_ctl::kSavePreemptionTimer), V, E7},
    {"VM-exit MSR-load address not 16-byte aligned", "§27.2.1.2",
     both(set(v::kExitMsrLoadCount, 1), set(v::kExitMsrLoadAddr, 0x30008)), V, E7},
    {"VM-exit MSR-store area beyond MAXPHYADDR", "§27.2.1.2",
     both(set(v::kExitMsrStoreCount, 2), set(v::kExitMsrStoreAddr, (1ull << 48) - 16)), V, E7},
    // ---- §27.2.1.3 VM-entry control fields -> error 7 ----
    {"entry to SMM outside SMM (allowed-1 = 0)", "§27.2.1.3, A.5", set_or(v::kEntryControls, v::entry_ctl::kEntryToSmm), V, E7},
    {"inject: reserved type 1", "§27.2.1.3", set(v::kEntryInterruptionInfo, kValid | type(1) | 32), V, E7},
    {"inject: NMI with vector 3", "§27.2.1.3", set(v::kEntryInterruptionInfo, kValid | type(2) | 3), V, E7},
    {"inject: hardware exception vector 32", "§27.2.1.3", set(v::kEntryInterruptionInfo, kValid | type(3) | 32), V, E7},
    {"inject: #GP without deliver-error-code", "§27.2.1.3", set(v::kEntryInterruptionInfo, kValid | type(3) | 13), V, E7},
    {"inject: #UD with deliver-error-code", "§27.2.1.3",
     set(v::kEntryInterruptionInfo, kValid | type(3) | 6 | v::intr_info::kDeliverErrorCode), V, E7},
    {"inject: reserved bit 12", "§27.2.1.3", set(v::kEntryInterruptionInfo, kValid | type(0) | 0x1000 | 32), V, E7},
    {"inject: error code bits 31:16", "§27.2.1.3",
     both(set(v::kEntryInterruptionInfo, kValid | type(3) | 13 | v::intr_info::kDeliverErrorCode),
          set(v::kEntryExceptionErrorCode, 0x10000)), V, E7},
    {"inject: software interrupt with instruction length 0", "§27.2.1.3",
     set(v::kEntryInterruptionInfo, kValid | type(4) | 0x80), V, E7},
    {"VM-entry MSR-load address not 16-byte aligned", "§27.2.1.3",
     both(set(v::kEntryMsrLoadCount, 1), set(v::kEntryMsrLoadAddr, 0x30004)), V, E7},
    // ---- §27.2.2 host-state area, §27.2.3 address-space size -> error 8 ----
    {"host CR0.PG = 0", "§27.2.2.1, A.7", set_andnot(v::kHostCr0, 1ull << 31), V, E8},
    {"host CR0 bit 32", "§27.2.2.1, A.7", set_or(v::kHostCr0, 1ull << 32), V, E8},
    {"host CR4.VMXE = 0", "§27.2.2.1, A.8", set_andnot(v::kHostCr4, 1u << 13), V, E8},
    {"host CR3 beyond MAXPHYADDR", "§27.2.2.1", set_or(v::kHostCr3, 1ull << 48), V, E8},
    {"host SYSENTER_EIP not canonical", "§27.2.2.1", set(v::kHostSysenterEip, kNonCanonical), V, E8},
    {"host PAT entry type 2", "§27.2.2.1",
     both(set_or(v::kExitControls, v::exit_ctl::kLoadPat), set(v::kHostPat, 0x0007040600070402ull)), V, E8},
    {"host EFER.LMA = 0 with a 64-bit host", "§27.2.2.1",
     both(set_or(v::kExitControls, v::exit_ctl::kLoadEfer), set(v::kHostEfer, 0x100)), V, E8},
    {"host SS selector RPL 1", "§27.2.2.2", set(v::kHostSsSelector, 0x11), V, E8},
    {"host TR selector TI = 1", "§27.2.2.2", set(v::kHostTrSelector, 0x4C), V, E8},
    {"host CS selector 0", "§27.2.2.2", set(v::kHostCsSelector, 0), V, E8},
    {"host TR selector 0", "§27.2.2.2", set(v::kHostTrSelector, 0), V, E8},
    {"host FS base not canonical", "§27.2.2.3", set(v::kHostFsBase, kNonCanonical), V, E8},
    {"host GDTR base not canonical", "§27.2.2.3", set(v::kHostGdtrBase, kNonCanonical), V, E8},
    {"host address-space size 0 in IA-32e mode", "§27.2.3",
     both(set_andnot(v::kExitControls, v::exit_ctl::kHostAddressSpaceSize), set_andnot(v::kEntryControls, v::entry_ctl::kIa32eModeGuest)), V, E8},
    {"host CR4.PAE = 0 with a 64-bit host", "§27.2.3", set_andnot(v::kHostCr4, 1u << 5), V, E8},
    {"host RIP not canonical", "§27.2.3", set(v::kHostRip, kNonCanonical), V, E8},
    // ---- §27.3.1.1 guest control registers and MSRs -> reason 33, qualification 0 ----
    {"guest CR0.NE = 0", "§27.3.1.1, A.7", set_andnot(v::kGuestCr0, 1u << 5), G, Q0},
    {"guest CR4.VMXE = 0", "§27.3.1.1, A.8", set_andnot(v::kGuestCr4, 1u << 13), G, Q0},
    {"IA-32e mode guest with CR4.PAE = 0", "§27.3.1.1", set_andnot(v::kGuestCr4, 1u << 5), G, Q0},
    {"guest CR3 beyond MAXPHYADDR", "§27.3.1.1", set_or(v::kGuestCr3, 1ull << 50), G, Q0},
    {"guest DR7 bit 32 with load debug controls", "§27.3.1.1",
     both(set_or(v::kEntryControls, v::entry_ctl::kLoadDebugControls), set(v::kGuestDr7, 0x100000400ull)), G, Q0},
    {"guest SYSENTER_ESP not canonical", "§27.3.1.1", set(v::kGuestSysenterEsp, kNonCanonical), G, Q0},
    {"guest EFER.LMA = 0 for an IA-32e mode guest", "§27.3.1.1",
     both(set_or(v::kEntryControls, v::entry_ctl::kLoadEfer), set(v::kGuestEfer, 0x100)), G, Q0},
    {"guest PAT entry type 3", "§27.3.1.1",
     both(set_or(v::kEntryControls, v::entry_ctl::kLoadPat), set(v::kGuestPat, 0x0306ull)), G, Q0},
    // ---- §27.3.1.2 guest segment registers ----
    {"guest TR selector TI = 1", "§27.3.1.2", set(v::kGuestTrSelector, 0x4C), G, Q0},
    {"guest SS.RPL != CS.RPL", "§27.3.1.2", set(v::kGuestSsSelector, 0x13), G, Q0},
    {"guest CS base bit 32", "§27.3.1.2", set(v::kGuestCsBase, 1ull << 32), G, Q0},
    {"guest GS base not canonical", "§27.3.1.2", set(v::kGuestGsBase, kNonCanonical), G, Q0},
    {"guest CS type 3 (data)", "§27.3.1.2", set(v::kGuestCsAr, 0xA093), G, Q0},
    {"guest CS not present", "§27.3.1.2", set(v::kGuestCsAr, 0xA01B), G, Q0},
    {"guest CS.L and CS.D both set", "§27.3.1.2", set(v::kGuestCsAr, 0xE09B), G, Q0},
    {"guest CS.DPL 3 != SS.DPL 0", "§27.3.1.2", set(v::kGuestCsAr, 0xA0FB), G, Q0},
    {"guest CS access-rights bit 8 reserved", "§27.3.1.2", set(v::kGuestCsAr, 0xA19B), G, Q0},
    {"guest SS type 11 (code)", "§27.3.1.2", set(v::kGuestSsAr, 0xC09B), G, Q0},
    {"guest DS type 2 (not accessed)", "§27.3.1.2", set(v::kGuestDsAr, 0xC092), G, Q0},
    {"guest DS limit FFFFFFFF with G = 0", "§27.3.1.2", set(v::kGuestDsAr, 0x4093), G, Q0},
    {"guest TR type 9 (available TSS) in IA-32e mode", "§27.3.1.2", set(v::kGuestTrAr, 0x89), G, Q0},
    {"guest TR unusable", "§27.3.1.2", set(v::kGuestTrAr, 0x1008B), G, Q0},
    {"guest LDTR usable with type 3", "§27.3.1.2", set(v::kGuestLdtrAr, 0x83), G, Q0},
    // ---- §27.3.1.3 descriptor-table registers ----
    {"guest GDTR limit bit 16", "§27.3.1.3", set(v::kGuestGdtrLimit, 0x10000), G, Q0},
    {"guest IDTR base not canonical", "§27.3.1.3", set(v::kGuestIdtrBase, kNonCanonical), G, Q0},
    // ---- §27.3.1.4 RIP and RFLAGS ----
    {"guest RIP not canonical (64-bit code)", "§27.3.1.4", set(v::kGuestRip, kNonCanonical), G, Q0},
    {"guest RFLAGS bit 1 = 0", "§27.3.1.4", set(v::kGuestRflags, 0), G, Q0},
    {"guest RFLAGS bit 15 reserved", "§27.3.1.4", set(v::kGuestRflags, 0x8002), G, Q0},
    {"guest RFLAGS.VM in IA-32e mode", "§27.3.1.4", set(v::kGuestRflags, 0x20002), G, Q0},
    {"inject external interrupt with RFLAGS.IF = 0", "§27.3.1.4", set(v::kEntryInterruptionInfo, kValid | type(0) | 0x20), G, Q0},
    // ---- §27.3.1.5 non-register state ----
    {"guest activity state 2 (shutdown, unsupported)", "§27.3.1.5, A.6", set(v::kGuestActivityState, 2), G, Q0},
    {"guest activity state 4 (reserved)", "§27.3.1.5", set(v::kGuestActivityState, 4), G, Q0},
    {"blocking by STI and by MOV SS", "§27.3.1.5",
     both(set(v::kGuestRflags, 0x202), set(v::kGuestInterruptibility, 3)), G, Q0},
    {"blocking by STI with RFLAGS.IF = 0", "§27.3.1.5", set(v::kGuestInterruptibility, 1), G, Q0},
    {"interruptibility reserved bit 5", "§27.3.1.5", set(v::kGuestInterruptibility, 0x20), G, Q0},
    {"pending debug exceptions bit 4", "§27.3.1.5", set(v::kGuestPendingDebugExceptions, 0x10), G, Q0},
    {"HLT activity with TF = 1 and BS = 0", "§27.3.1.5",
     both(set(v::kGuestActivityState, 1), set(v::kGuestRflags, 0x102)), G, Q0},
    {"VMCS link pointer not 4 KiB aligned", "§27.3.1.5, §27.8", set(v::kVmcsLinkPointer, 0x12008), G, Q4},
    {"VMCS link pointer with a wrong revision id", "§27.3.1.5, §27.8", set(v::kVmcsLinkPointer, 0x30000), G, Q4},
    // ---- §27.4 loading MSRs -> reason 34, qualification = the failing entry's index ----
    {"VM-entry MSR-load entry 1 is IA32_FS_BASE", "§27.4, §27.8",
     [](VmxRig& r) {
       r.wr64(0x33000, 0xC0000100);
       r.set(v::kEntryMsrLoadAddr, 0x33000);
       r.set(v::kEntryMsrLoadCount, 1);
     }, G, 1, false, 0x80000022},
    {"VM-entry MSR-load entry 2 with reserved bits 63:32", "§27.4, §27.8",
     [](VmxRig& r) {
       r.wr64(0x33000, 0xC0000082);
       r.wr64(0x33010, 0xC0000082 | (1ull << 40));
       r.set(v::kEntryMsrLoadAddr, 0x33000);
       r.set(v::kEntryMsrLoadCount, 2);
     }, G, 2, false, 0x80000022},
    // ---- launch state (ch. 31 "VMLAUNCH/VMRESUME") ----
    {"VMRESUME of a clear VMCS", "ch. 31 VMRESUME, §31.4", [](VmxRig&) {}, V, v::kErrVmresumeNonLaunched, true},
    {"VMLAUNCH of a launched VMCS", "ch. 31 VMLAUNCH, §31.4",
     [](VmxRig& r) { r.vmx.vmentry(true); }, V, v::kErrVmlaunchNonClear},
    {"VMLAUNCH without a current VMCS", "ch. 31 VMLAUNCH, §31.2",
     [](VmxRig& r) { r.vmx.vmclear(VmxRig::kVmcs); }, Expect::fail_invalid, 0},
};

constexpr uint64_t kAfterHlt = VmxRig::kCode + 4;  // VMLAUNCH/VMRESUME (3 bytes) + HLT

}  // namespace

// The baseline passes every check (so each row fails for its own reason only).
BOOST_AUTO_TEST_CASE(baseline_vmcs_is_valid) {
  VmxRig r;
  r.valid_vmcs();
  const svmx::VmResult res = r.vmx.vmentry(true);
  BOOST_TEST_INFO(r.vmx.last_entry_failure());
  BOOST_TEST((res.kind == svmx::VmResult::Kind::entered));
}

BOOST_AUTO_TEST_CASE(the_table_has_at_least_25_rows) {
  BOOST_TEST(std::size(kRows) >= 25u);
  BOOST_TEST_MESSAGE("VM-entry check rows: " << std::size(kRows));
}

BOOST_DATA_TEST_CASE(entry_check, bdata::make(kRows), row) {
  VmxRig r;
  r.valid_vmcs();
  row.mutate(r);
  const uint64_t err_before = r.field(v::kVmInstructionError);
  const uint64_t flags_before = v::kVmFlagsMask;
  r.c.set_status(flags_before);
  r.run(row.resume ? test::op::vmresume : test::op::vmlaunch);
  BOOST_TEST_INFO(row.section << ": " << r.vmx.last_entry_failure());
  BOOST_TEST_MESSAGE(row.name << " -> " << r.vmx.last_entry_failure());
  BOOST_TEST(r.fault() == -1);
  switch (row.expect) {
    case Expect::fail_valid:
      BOOST_TEST(r.vm_fail_valid());  // ZF = 1, the other five clear (§31.2)
      BOOST_TEST(r.field(v::kVmInstructionError) == row.number);
      BOOST_TEST(r.c.rip() == kAfterHlt);  // falls through to the next instruction
      break;
    case Expect::fail_invalid:
      BOOST_TEST(r.vm_fail_invalid());
      BOOST_TEST(r.c.rip() == kAfterHlt);
      break;
    case Expect::entry_fail: {
      // §27.8: the exit reason and qualification are recorded, host state is loaded (§28.5),
      // the VM-instruction error field is untouched and the VMCS stays "clear".
      BOOST_TEST(r.field(v::kExitReason) == row.exit_reason);
      BOOST_TEST(r.field(v::kExitQualification) == row.number);
      BOOST_TEST(r.field(v::kVmInstructionError) == err_before);
      BOOST_TEST(r.c.rip() == VmxRig::kHostRip + 1);  // ran the HLT at HOST_RIP
      BOOST_TEST(r.c.gpr[sim::cpu::RSP] == VmxRig::kHostRsp);
      BOOST_TEST(r.c.rflags() == 2u);                 // §28.5.3
      BOOST_TEST(r.c.cs.selector == VmxRig::kCode64);
      BOOST_TEST(r.c.tr.selector == 0x48u);
      BOOST_TEST((r.vmx.vmcs(VmxRig::kVmcs)->launch == svmx::Vmcs::Launch::clear));
      break;
    }
  }
}
