#include "platform/x86/pending_drivers.hpp"

#include "platform/x86/launch_report.hpp"

namespace redoubt::x86 {

Status PendingTisTpm::active_banks(BankList&) {
  launch_fail(Err::not_implemented, "TPM TIS (locality 2) is not implemented yet on bare metal (platform/x86/drivers)");
}
Status PendingTisTpm::pcr_extend(uint8_t, uint32_t, const DigestList&) {
  launch_fail(Err::not_implemented, "TPM TIS PCR_Extend is not implemented yet on bare metal (platform/x86/drivers)");
}
Status PendingTisTpm::nv_read_counter(uint8_t, uint32_t, uint64_t&) {
  launch_fail(Err::not_implemented, "TPM TIS NV_Read is not implemented yet on bare metal (platform/x86/drivers)");
}

Status PendingDevProtection::protect(uint64_t, uint64_t) {
  launch_fail(Err::not_implemented, "AMD DEV programming is not implemented yet on bare metal (platform/x86/drivers)");
}
bool PendingDevProtection::is_protected(uint64_t, uint64_t) {
  launch_fail(Err::not_implemented, "AMD DEV query is not implemented yet on bare metal (platform/x86/drivers)");
}

void PendingLapicTimer::arm(uint64_t, uint8_t) {
  launch_fail(Err::not_implemented, "LAPIC timer is not implemented yet on bare metal (platform/x86/drivers)");
}
void PendingLapicTimer::eoi() {
  launch_fail(Err::not_implemented, "LAPIC EOI is not implemented yet on bare metal (platform/x86/drivers)");
}

}  // namespace redoubt::x86
