// Reading, replaying and printing a crypto-agile DRTM event log (TCG PC Client
// PFP 1.05 §10.4.5.1 Spec ID Event03 header + §10.2.2 TCG_PCR_EVENT2 records).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "platform/hal/digest.hpp"

namespace redoubt::policy {

class EventLogError : public std::runtime_error {
 public:
  EventLogError(size_t offset, const std::string& cause)
      : std::runtime_error("eventlog: at offset " + std::to_string(offset) + ": " + cause), offset_(offset) {}
  size_t offset() const { return offset_; }

 private:
  size_t offset_;
};

struct LogEvent {
  size_t index;   // 0 = the first TCG_PCR_EVENT2 after the header
  size_t offset;  // byte offset of the record in the log
  uint32_t pcr;
  uint32_t type;
  std::vector<std::pair<HashAlg, std::vector<uint8_t>>> digests;
  std::vector<uint8_t> data;
};

struct EventLog {
  std::vector<std::pair<HashAlg, uint16_t>> banks;  // from the Spec ID header: alg, digest size
  std::vector<LogEvent> events;
};

EventLog parse_event_log(std::span<const uint8_t> log);

// PCR values per bank, each PCR starting at zeros (right for DRTM PCRs after the
// locality-4 reset); EV_NO_ACTION events are not extended (PFP §10.4.5).
std::map<HashAlg, std::map<uint32_t, std::vector<uint8_t>>> replay_event_log(const EventLog& log);
// The same for only the PCRs `wanted` names in each bank; no other bank or PCR is hashed or returned
// (a verifier compares no more than its quote selects: issue 13, a first-seen log's replay).
std::map<HashAlg, std::map<uint32_t, std::vector<uint8_t>>> replay_event_log(const EventLog& log, const std::map<HashAlg, std::set<uint32_t>>& wanted);

// A human table of the events followed by the replayed PCRs per bank.
std::string format_event_log(const EventLog& log);

}  // namespace redoubt::policy
