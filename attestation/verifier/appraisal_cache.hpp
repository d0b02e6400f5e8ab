// Memoised event-log appraisals (issue 13, throughput). appraise_event_log is a
// pure function of (the log's bytes, the quoted PCR values, the reference
// values): an endpoint sends the same log with every quote of one boot, and a
// fleet launched from one image sends the same few logs. The cache belongs to
// one ReferenceValues object (it holds it, so its address is never reused
// while the cache lives) and is replaced with it; an entry is found by the
// SHA-256 of the log's and the PCR file's whole bytes and gives the very
// findings and claims the appraisal gave. Thread-safe, bounded in bytes (an
// estimate of each entry's size; FIFO).
// A log is kept the second time it is seen, not the first (a "doorkeeper", as in
// TinyLFU): a log seen once — every log of a fleet whose endpoints' logs all
// differ — would only displace the entries that do repeat, and keeping it cost
// more than its appraisal (first-seen logs, docs/verifier-performance.md, ninth
// round). What was seen is a fixed table of 64-bit tags of the keys, one per
// slot; a slot overwritten by another log only delays that log's admission.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
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

  using Key = std::array<uint8_t, 32>;  // SHA-256 (appraisal_cache.cpp key_of)

  struct Stats {
    uint64_t hits = 0, misses = 0;
    uint64_t not_kept = 0;  // misses not kept: the log's first sighting (the doorkeeper)
    size_t entries = 0, bytes = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    LogAppraisal result;
    Findings findings;  // what the appraisal appended
    std::shared_ptr<const LogClaimsText> text;  // log_claims_text(result)
    size_t bytes = 0;  // entry_bytes: what the bound counts
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      size_t h;
      std::memcpy(&h, k.data(), sizeof h);  // a SHA-256 prefix is already uniform
      return h;
    }
  };
  std::shared_ptr<const Entry> lookup(std::span<const uint8_t> log, std::span<const uint8_t> pcr_file, const QuotedPcrs& quoted, Findings& f);
  std::shared_ptr<const ReferenceValues> ref_;
  size_t max_bytes_;
  mutable std::mutex mu_;
  std::unordered_map<Key, std::shared_ptr<const Entry>, KeyHash> map_;
  std::deque<Key> order_;
  // The doorkeeper: slot (key's first 8 bytes mod kSeenSlots) holds the tag (its next 8 bytes, never 0)
  // of the last log that missed there. 2^16 slots: a log seen again after N other distinct logs is still
  // remembered with probability ~e^(-N/65536) (96 % at N = 2,500); 512 KiB.
  static constexpr size_t kSeenSlots = size_t{1} << 16;
  std::unique_ptr<uint64_t[]> seen_;
  bool seen_before(const Key& k);  // and remembers k; under mu_
  Stats stats_;
};

}  // namespace redoubt::attest
