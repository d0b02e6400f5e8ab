#include "attestation/verifier/public_cache.hpp"

#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace redoubt::attest {
namespace {

constexpr size_t kMaxEntries = 4096;  // a fleet's AKs and EKs; older ones are decoded again when they come back

struct Cache {
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<const DecodedPublic>> map;
  std::deque<std::string> order;  // insertion order, for eviction
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: appraisals may run while static destructors do
  return *c;
}

}  // namespace

std::shared_ptr<const DecodedPublic> decode_public_cached(std::span<const uint8_t> bytes, const char* what) {
  std::string key(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> l(c.mu);
    if (auto it = c.map.find(key); it != c.map.end()) return it->second;
  }
  auto d = std::make_shared<DecodedPublic>();
  d->pub = unmarshal_public(bytes, what);  // throws for bad bytes: nothing cached
  d->name = tpm_object_name(d->pub.publicArea);
  d->endorsement_primary_qn = tpm_primary_qualified_name(TPM2_RH_ENDORSEMENT, d->pub.publicArea);
  d->owner_primary_qn = tpm_primary_qualified_name(TPM2_RH_OWNER, d->pub.publicArea);
  try {
    d->key = public_to_evp(d->pub.publicArea);
  } catch (const std::exception&) {
    // not every public area is a key OpenSSL takes: the caller that needs one gets the error itself
  }
  std::shared_ptr<const DecodedPublic> out = std::move(d);
  std::lock_guard<std::mutex> l(c.mu);
  auto [it, inserted] = c.map.emplace(key, out);
  if (inserted) {
    c.order.push_back(std::move(key));
    if (c.order.size() > kMaxEntries) {
      c.map.erase(c.order.front());
      c.order.pop_front();
    }
  }
  return it->second;
}

}  // namespace redoubt::attest
