#include "attestation/verifier/appraisal_cache.hpp"

namespace redoubt::attest {
namespace {

// The exact bytes of both inputs, length-prefixed so that no two (log, pcr file) pairs share a key.
std::string key_of(std::span<const uint8_t> log, std::span<const uint8_t> pcr_file) {
  std::string k;
  k.reserve(8 + pcr_file.size() + log.size());
  const uint64_t n = pcr_file.size();
  k.append(reinterpret_cast<const char*>(&n), sizeof n);
  k.append(reinterpret_cast<const char*>(pcr_file.data()), pcr_file.size());
  k.append(reinterpret_cast<const char*>(log.data()), log.size());
  return k;
}

void append(Findings& to, const Findings& from) {
  for (auto v : {&Findings::failures, &Findings::warnings, &Findings::notes}) (to.*v).insert((to.*v).end(), (from.*v).begin(), (from.*v).end());
}

}  // namespace

LogAppraisalCache::LogAppraisalCache(std::shared_ptr<const ReferenceValues> ref, size_t max_bytes) : ref_(std::move(ref)), max_bytes_(max_bytes) {}

LogAppraisal LogAppraisalCache::appraise(std::span<const uint8_t> log, std::span<const uint8_t> pcr_file, const QuotedPcrs& quoted, Findings& f) {
  return lookup(log, pcr_file, quoted, f)->result;
}

std::shared_ptr<const LogClaimsText> LogAppraisalCache::appraise_text(std::span<const uint8_t> log, std::span<const uint8_t> pcr_file,
                                                                      const QuotedPcrs& quoted, Findings& f) {
  return lookup(log, pcr_file, quoted, f)->text;
}

std::shared_ptr<const LogAppraisalCache::Entry> LogAppraisalCache::lookup(std::span<const uint8_t> log, std::span<const uint8_t> pcr_file,
                                                                         const QuotedPcrs& quoted, Findings& f) {
  std::string key = key_of(log, pcr_file);
  std::shared_ptr<const Entry> hit;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = map_.find(key); it != map_.end()) {
      hit = it->second;
      ++stats_.hits;
    } else {
      ++stats_.misses;
    }
  }
  if (hit) {
    append(f, hit->findings);
    return hit;
  }
  auto e = std::make_shared<Entry>();
  e->result = appraise_event_log(log, quoted, ref_.get(), e->findings);  // appraise_event_log only appends to its Findings
  e->text = std::make_shared<const LogClaimsText>(log_claims_text(e->result));
  append(f, e->findings);
  std::shared_ptr<const Entry> out = e;
  if (key.size() <= max_bytes_ / 4) {
    std::lock_guard<std::mutex> l(mu_);
    const size_t n = key.size();
    if (map_.emplace(key, std::move(e)).second) {
      order_.push_back(std::move(key));
      stats_.bytes += n;
      while (stats_.bytes > max_bytes_ && !order_.empty()) {
        stats_.bytes -= order_.front().size();
        map_.erase(order_.front());
        order_.pop_front();
      }
    }
    stats_.entries = map_.size();
  }
  return out;
}

LogAppraisalCache::Stats LogAppraisalCache::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

}  // namespace redoubt::attest
