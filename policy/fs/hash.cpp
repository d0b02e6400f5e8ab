#include "policy/fs/hash.hpp"

#include <bearssl.h>

namespace redoubt::policy {
namespace {

// Every context starts with its vtable pointer (BearSSL bearssl_hash.h), so
// the class-generic calls work on ctx_ once init() has run.
static_assert(sizeof(br_sha1_context) <= 256);
static_assert(sizeof(br_sha256_context) <= 256);
static_assert(sizeof(br_sha384_context) <= 256);
static_assert(sizeof(br_sha512_context) <= 256);
static_assert(alignof(br_sha512_context) <= 8);

const br_hash_class* vtable(HashAlg alg) {
  switch (alg) {
    case HashAlg::sha1: return &br_sha1_vtable;
    case HashAlg::sha256: return &br_sha256_vtable;
    case HashAlg::sha384: return &br_sha384_vtable;
    case HashAlg::sha512: return &br_sha512_vtable;
  }
  return &br_sha256_vtable;  // unreachable for valid enum values
}

}  // namespace

Hasher::Hasher(HashAlg alg) : alg_(alg) {
  if (digest_size(alg_) == 0) alg_ = HashAlg::sha256;
  vtable(alg_)->init(reinterpret_cast<const br_hash_class**>(ctx_));
}

void Hasher::update(const void* data, size_t n) {
  auto** vt = reinterpret_cast<const br_hash_class**>(ctx_);
  (*vt)->update(vt, data, n);
}

Digest Hasher::finish() {
  Digest d;
  d.alg = alg_;
  auto** vt = reinterpret_cast<const br_hash_class**>(ctx_);
  (*vt)->out(vt, d.bytes);
  return d;
}

Digest hash(HashAlg alg, std::span<const uint8_t> data) {
  Hasher h(alg);
  h.update(data);
  return h.finish();
}

DigestList hash_banks(const BankList& banks, std::span<const uint8_t> data) {
  DigestList out;
  for (uint32_t i = 0; i < banks.count && i < DigestList::kMax; ++i) out.d[out.count++] = hash(banks.alg[i], data);
  return out;
}

}  // namespace redoubt::policy
