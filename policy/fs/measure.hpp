// One DRTM measurement, the same for the SL and the hypervisor: the
// TCG_PCR_EVENT2 record (TCG PFP §10.2.2) and the PCR extend at the DLME's locality.
#pragma once
#include <cstdint>
#include <span>

#include "platform/hal/hal.hpp"
#include "policy/fs/eventlog.hpp"

namespace redoubt::policy {

// Appends the record to `log` (nullptr: no log yet) and extends `pcr` — even
// when the log cannot take the record, so a PCR never misses a measurement,
// least of all a "launch failed" cap. The extend's failure wins, else the log's.
Status measure_event(hal::Tpm& tpm, uint8_t locality, EventLogWriter* log, uint32_t pcr, uint32_t type,
                     const DigestList& digests, std::span<const uint8_t> data);

}  // namespace redoubt::policy
