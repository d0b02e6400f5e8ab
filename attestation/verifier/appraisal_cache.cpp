#include "attestation/verifier/appraisal_cache.hpp"

#include <openssl/evp.h>

#include <stdexcept>

#include "attestation/tpm/tpm_public.hpp"

namespace redoubt::attest {
namespace {

// SHA-256 over (length of the PCR file ‖ the PCR file ‖ the log): 32 bytes per entry instead of a
// copy of both inputs (a log is ~9 KiB; every first-seen log used to cost two copies: issue 13,
// verifier throughput). Length-prefixed, so no two (log, pcr file) pairs hash the same input; two
// pairs share a key only through a SHA-256 collision — the assumption every PCR extend and quote
// this verifier checks already rests on (TPM 2.0 Part 1 §17, PCR extend).
LogAppraisalCache::Key key_of(std::span<const uint8_t> log, std::span<const uint8_t> pcr_file) {
  LogAppraisalCache::Key k{};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const uint64_t n = pcr_file.size();
  unsigned len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), tpm_hash_md(TPM2_ALG_SHA256), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), &n, sizeof n) != 1 || EVP_DigestUpdate(ctx.get(), pcr_file.data(), pcr_file.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), log.data(), log.size()) != 1 || EVP_DigestFinal_ex(ctx.get(), k.data(), &len) != 1 || len != k.size())
    throw std::runtime_error("event-log cache: SHA-256 failed (OpenSSL)");
  return k;
}

// What an entry holds, roughly: the claims as text, the nlohmann trees next to them (~2x the
// text), the findings; what the cache's byte bound counts (it used to count only the key).
size_t entry_bytes(const std::shared_ptr<const LogClaimsText>& t, const Findings& f) {
  size_t n = 256 + 3 * (t->drtm.size() + t->guests.size() + t->launch.size());
  for (auto v : {&Findings::failures, &Findings::warnings, &Findings::notes})
    for (const Finding& x : f.*v) n += 128 + 2 * (x.code.size() + x.message.size());
  return n;
}

void append(Findings& to, const Findings& from) {
  for (auto v : {&Findings::failures, &Findings::warnings, &Findings::notes}) (to.*v).insert((to.*v).end(), (from.*v).begin(), (from.*v).end());
}

}  // namespace

LogAppraisalCache::LogAppraisalCache(std::shared_ptr<const ReferenceValues> ref, size_t max_bytes)
    : ref_(std::move(ref)), max_bytes_(max_bytes), seen_(new uint64_t[kSeenSlots]()) {}

bool LogAppraisalCache::seen_before(const Key& k) {
  uint64_t slot, tag;
  std::memcpy(&slot, k.data(), sizeof slot);
  std::memcpy(&tag, k.data() + 8, sizeof tag);
  if (tag == 0) tag = 1;  // 0 marks an empty slot
  uint64_t& s = seen_[slot % kSeenSlots];
  if (s == tag) return true;
  s = tag;
  return false;
}

LogAppraisal LogAppraisalCache::appraise(std::span<const uint8_t> log, std::span<const uint8_t> pcr_file, const QuotedPcrs& quoted, Findings& f) {
  return lookup(log, pcr_file, quoted, f)->result;
}

std::shared_ptr<const LogClaimsText> LogAppraisalCache::appraise_text(std::span<const uint8_t> log, std::span<const uint8_t> pcr_file,
                                                                      const QuotedPcrs& quoted, Findings& f) {
  return lookup(log, pcr_file, quoted, f)->text;
}

std::shared_ptr<const LogAppraisalCache::Entry> LogAppraisalCache::lookup(std::span<const uint8_t> log, std::span<const uint8_t> pcr_file,
                                                                         const QuotedPcrs& quoted, Findings& f) {
  const Key key = key_of(log, pcr_file);
  std::shared_ptr<const Entry> hit;
  bool keep = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = map_.find(key); it != map_.end()) {
      hit = it->second;
      ++stats_.hits;
    } else {
      ++stats_.misses;
      keep = seen_before(key);
      if (!keep) ++stats_.not_kept;
    }
  }
  if (hit) {
    append(f, hit->findings);
    return hit;
  }
  auto e = std::make_shared<Entry>();
  e->result = appraise_event_log(log, quoted, ref_.get(), e->findings);  // appraise_event_log only appends to its Findings
  e->text = std::make_shared<const LogClaimsText>(log_claims_text(e->result));
  e->bytes = entry_bytes(e->text, e->findings);
  append(f, e->findings);
  std::shared_ptr<const Entry> out = e;
  if (keep && e->bytes <= max_bytes_ / 4) {
    std::lock_guard<std::mutex> l(mu_);
    const size_t n = e->bytes;
    if (map_.emplace(key, std::move(e)).second) {
      order_.push_back(key);
      stats_.bytes += n;
      while (stats_.bytes > max_bytes_ && !order_.empty()) {  // FIFO: the oldest entries go first
        auto it = map_.find(order_.front());
        stats_.bytes -= it->second->bytes;
        map_.erase(it);
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
