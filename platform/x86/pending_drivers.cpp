#include "platform/x86/pending_drivers.hpp"

#include "platform/x86/launch_report.hpp"

namespace redoubt::x86 {

Status PendingTisTpm::active_banks(BankList&) {
  launch_fail(Err::not_implemented, "TPM TIS: no driver yet (platform/x86/drivers)");
}
Status PendingTisTpm::pcr_extend(uint8_t, uint32_t, const DigestList&) {
  launch_fail(Err::not_implemented, "TPM TIS PCR_Extend: no driver yet (platform/x86/drivers)");
}
Status PendingTisTpm::nv_read_counter(uint8_t, uint32_t, uint64_t&) {
  launch_fail(Err::not_implemented, "TPM TIS NV_Read: no driver yet (platform/x86/drivers)");
}

Status PendingDevProtection::protect(uint64_t, uint64_t) {
  launch_fail(Err::not_implemented, "AMD DEV programming: no driver yet (platform/x86/drivers)");
}
bool PendingDevProtection::is_protected(uint64_t, uint64_t) {
  launch_fail(Err::not_implemented, "AMD DEV query: no driver yet (platform/x86/drivers)");
}

void PendingLapicTimer::arm(uint64_t, uint8_t) {
  launch_fail(Err::not_implemented, "LAPIC timer: no driver yet (platform/x86/drivers)");
}
void PendingLapicTimer::eoi() {
  launch_fail(Err::not_implemented, "LAPIC EOI: no driver yet (platform/x86/drivers)");
}

}  // namespace redoubt::x86
