#include "policy/fs/measure.hpp"

namespace redoubt::policy {

Status measure_event(hal::Tpm& tpm, uint8_t locality, EventLogWriter* log, uint32_t pcr, uint32_t type,
                     const DigestList& digests, std::span<const uint8_t> data) {
  const Status logged = log ? log->append(pcr, type, digests, data) : Status::ok();
  REDOUBT_TRY(tpm.pcr_extend(locality, pcr, digests));
  return logged;
}

}  // namespace redoubt::policy
