// Memoised event-log appraisals (issue 13, throughput). appraise_event_log is a
// pure function of (the log's bytes, the quoted PCR values, the reference
// values): an endpoint sends the same log with every quote of one boot, and a
// fleet launched from one image sends the same few logs. The cache belongs to
// one ReferenceValues object (it holds it, so its address is never reused
// while the cache lives) and is replaced with it; an entry is found by
// comparing the log's and the PCR file's whole bytes and gives the very
// findings and claims the appraisal gave. Thread-safe, bounded in bytes (FIFO).
#pragma once
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

#include "attestation/verifier/eventlog_appraiser.hpp"

namespace redoubt::attest {

class LogAppraisalCache {
 public:
  explicit LogAppraisalCache(std::shared_ptr<const ReferenceValues> ref, size_t max_bytes = 32u << 20);
  const ReferenceValues* ref() const { return ref_.get(); }

  // = appraise_event_log(log, quoted, ref(), f), where `quoted` was read from `pcr_file` (read_pcr_file).
  LogAppraisal appraise(std::span<const uint8_t> log, std::span<const uint8_t> pcr_file, const QuotedPcrs& quoted, Findings& f);
  // The same appraisal's claims as text (log_claims_text), shared with the entry: what an EAR is written from.
  std::shared_ptr<const LogClaimsText> appraise_text(std::span<const uint8_t> log, std::span<const uint8_t> pcr_file, const QuotedPcrs& quoted,
                                                     Findings& f);

  struct Stats {
    uint64_t hits = 0, misses = 0;
    size_t entries = 0, bytes = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    LogAppraisal result;
    Findings findings;  // what the appraisal appended
    std::shared_ptr<const LogClaimsText> text;  // log_claims_text(result)
  };
  std::shared_ptr<const Entry> lookup(std::span<const uint8_t> log, std::span<const uint8_t> pcr_file, const QuotedPcrs& quoted, Findings& f);
  std::shared_ptr<const ReferenceValues> ref_;
  size_t max_bytes_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const Entry>> map_;
  std::deque<std::string> order_;
  Stats stats_;
};

}  // namespace redoubt::attest
