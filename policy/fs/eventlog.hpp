// DRTM event log writer: TCG PC Client Platform Firmware Profile (PFP) 1.05,
// §10.4.5.1 Spec ID Event03 header (TCG_PCClientPCREvent with EV_NO_ACTION) and
// §10.2.2 TCG_PCR_EVENT2 records (crypto-agile). Writes into a caller buffer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "platform/hal/digest.hpp"
#include "platform/hal/status.hpp"

namespace redoubt::policy {

class EventLogWriter {
 public:
  EventLogWriter(uint8_t* buf, size_t cap) : buf_(buf), cap_(cap) {}
  // Spec ID Event03 naming every bank in `banks` (must be the first record).
  Status write_header(const BankList& banks);
  // Continue a log someone else started (the hypervisor after the SL): `used`
  // bytes are already written, with a header naming `banks`.
  Status resume(size_t used, const BankList& banks);
  // TCG_PCR_EVENT2: pcrIndex, eventType, TPML_DIGEST_VALUES, eventSize, event.
  Status append(uint32_t pcr, uint32_t event_type, const DigestList& digests,
                std::span<const uint8_t> event_data);
  size_t size() const { return len_; }

 private:
  Status put(const void* p, size_t n);
  Status put_u16(uint16_t v);
  Status put_u32(uint32_t v);
  uint8_t* buf_;
  size_t cap_;
  size_t len_ = 0;
  BankList banks_;  // from write_header: every event carries these, in this order
};

// Event 0 of every DRTM log (docs/pcr-map.md): SKINIT's own measurement of SLB[0:length],
// already in PCR17, logged (not extended again) by whoever writes the log first: the SL, or
// the pre-launch loader when the SL never ran (a fault at its entry).
Status append_skinit_slb_event(EventLogWriter& log, const BankList& banks, uint64_t slb_base, std::span<const uint8_t> slb);

}  // namespace redoubt::policy
