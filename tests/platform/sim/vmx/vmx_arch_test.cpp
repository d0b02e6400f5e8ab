// arch/vmx: the encodings follow the rules of Intel SDM vol. 3C §25.11.2 (most
// are also static_asserted in the header), exit reasons and error numbers match
// Appendix C and §31.4, the EPT helpers match §29.3.
#define BOOST_TEST_MODULE vmx_arch
#include <boost/test/unit_test.hpp>

#include "arch/vmx/controls.hpp"
#include "arch/vmx/ept.hpp"
#include "arch/vmx/exit_reasons.hpp"
#include "arch/vmx/msrs.hpp"
#include "arch/vmx/vm_errors.hpp"
#include "arch/vmx/vmcs_fields.hpp"

using namespace redoubt::vmx;

BOOST_AUTO_TEST_CASE(field_encoding_rules) {
  // Appendix B lists each class with its width/type bits; check every class's first and last member.
  struct Row { uint32_t enc; FieldWidth w; FieldType t; };
  const Row rows[] = {
      {kVpid, FieldWidth::w16, FieldType::control},          {kGuestUinv, FieldWidth::w16, FieldType::guest},
      {kHostTrSelector, FieldWidth::w16, FieldType::host},   {kTertiaryProcControls, FieldWidth::w64, FieldType::control},
      {kGuestPhysicalAddress, FieldWidth::w64, FieldType::read_only}, {kGuestPkrs, FieldWidth::w64, FieldType::guest},
      {kHostPkrs, FieldWidth::w64, FieldType::host},         {kPleWindow, FieldWidth::w32, FieldType::control},
      {kExitInstructionInfo, FieldWidth::w32, FieldType::read_only}, {kPreemptionTimerValue, FieldWidth::w32, FieldType::guest},
      {kHostSysenterCs, FieldWidth::w32, FieldType::host},   {kCr3Target3, FieldWidth::natural, FieldType::control},
      {kGuestLinearAddress, FieldWidth::natural, FieldType::read_only}, {kGuestIntrSspTable, FieldWidth::natural, FieldType::guest},
      {kHostIntrSspTable, FieldWidth::natural, FieldType::host},
  };
  for (const Row& r : rows) {
    BOOST_TEST_CONTEXT("encoding " << std::hex << r.enc) {
      BOOST_TEST((field_width(r.enc) == r.w));
      BOOST_TEST((field_type(r.enc) == r.t));
      BOOST_TEST(!field_encoding_malformed(r.enc));
      BOOST_TEST(make_field(r.w, r.t, field_index(r.enc)) == r.enc);
    }
  }
}

BOOST_AUTO_TEST_CASE(exit_reasons_and_errors) {
  BOOST_TEST(kExitCpuid == 10u);
  BOOST_TEST(kExitHlt == 12u);
  BOOST_TEST(kExitRdtsc == 16u);
  BOOST_TEST(kExitIo == 30u);
  BOOST_TEST(kExitEntryFailGuestState == 33u);
  BOOST_TEST(kExitEptViolation == 48u);
  BOOST_TEST(kExitEptMisconfig == 49u);
  BOOST_TEST(kExitPreemptionTimer == 52u);
  BOOST_TEST(kErrVmclearInvalidAddress == 2u);
  BOOST_TEST(kErrEntryInvalidControls == 7u);
  BOOST_TEST(kErrEntryInvalidHostState == 8u);
  BOOST_TEST(kErrVmptrldBadRevision == 11u);
  BOOST_TEST(kErrVmwriteReadOnly == 13u);
  BOOST_TEST(kErrVmxonInRoot == 15u);
  BOOST_TEST(kErrInvalidInvOperand == 28u);
}

BOOST_AUTO_TEST_CASE(qualification_layouts) {
  // OUT DX, AL to port 0x3F8: size 0 (1 byte), direction out, DX encoding.
  BOOST_TEST(io_qual::make(0x3F8, 1, false, false, false, false) == 0x03F80000u);
  // REP INSD from port 0x1F0: size 3, in, string, rep.
  BOOST_TEST(io_qual::make(0x1F0, 4, true, true, true, false) == 0x01F0003Bu);
  BOOST_TEST(cr_qual::make(0, cr_qual::kMovToCr, 3) == 0x300u);
  BOOST_TEST(ept_qual::kFinalTranslation == 0x100u);
}

BOOST_AUTO_TEST_CASE(ept_pointer_and_entries) {
  BOOST_TEST(ept::eptp::make(0x123000, ept::kWb, true) == 0x12305Eu);
  BOOST_TEST(ept::rwx_misconfigured(ept::kWrite | ept::kExecute, true));
  BOOST_TEST(!ept::rwx_misconfigured(ept::kRead | ept::kWrite, false));
  BOOST_TEST(ept::memtype_reserved(7ull << 3));
  BOOST_TEST(ctls_valid(make_ctls(pin::kDefault1, 0xFF), pin::kDefault1 | pin::kNmiExiting));
}
