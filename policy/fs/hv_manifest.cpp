#include "policy/fs/hv_manifest.hpp"

#include "policy/fs/cbor.hpp"

namespace redoubt::policy {
namespace {

constexpr const char* kFieldNames[] = {"", "type", "name", "version", "svn", "digest_alg", "digest", "size", "signer"};
constexpr uint64_t kMaxKey = 8;

// Copies a text string into a NUL-terminated field; refuses over-long text and
// embedded NULs (which would make the C string differ from the signed bytes).
Status copy_text(std::span<const uint8_t> t, char* out, size_t cap, const char* field) {
  if (t.size() > cap - 1)
    return Status::fail(Err::malformed, "hv-manifest: %s is %zu bytes, at most %zu allowed", field, t.size(), cap - 1);
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == 0) return Status::fail(Err::malformed, "hv-manifest: %s contains a NUL byte at %zu", field, i);
    out[i] = static_cast<char>(t[i]);
  }
  out[t.size()] = '\0';
  return Status::ok();
}

Status field_error(const char* field, const Status& st) {
  return Status::fail(Err::malformed, "hv-manifest: field %s: %s", field, st.message());
}

}  // namespace

Status hv_manifest_decode(std::span<const uint8_t> payload, HvManifest& out) {
  out = HvManifest{};
  CborReader r(payload);
  uint64_t n;
  Status st = r.read_map(n);
  if (!st) return Status::fail(Err::malformed, "hv-manifest: payload is not a map: %s", st.message());
  uint32_t seen = 0;
  uint64_t last = 0;
  std::span<const uint8_t> digest;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t key;
    const size_t at = r.offset();
    st = r.read_uint(key);
    if (!st) return Status::fail(Err::malformed, "hv-manifest: map key is not an unsigned integer: %s", st.message());
    if (key == 0 || key > kMaxKey)
      return Status::fail(Err::malformed, "hv-manifest: unknown key %llu at offset %zu", static_cast<unsigned long long>(key), at);
    if (seen & (1u << key))
      return Status::fail(Err::malformed, "hv-manifest: duplicate key %llu (%s) at offset %zu", static_cast<unsigned long long>(key),
                          kFieldNames[key], at);
    // RFC 8949 §4.2.1: deterministic encoding sorts map keys (ascending for small uints).
    if (key < last)
      return Status::fail(Err::malformed, "hv-manifest: key %llu after %llu: keys not in ascending order",
                          static_cast<unsigned long long>(key), static_cast<unsigned long long>(last));
    seen |= 1u << key;
    last = key;
    const char* f = kFieldNames[key];
    std::span<const uint8_t> s;
    switch (key) {
      case 1: {
        if (!(st = r.read_text(s))) return field_error(f, st);
        const size_t tl = sizeof kHvManifestType - 1;
        bool same = s.size() == tl;
        for (size_t j = 0; same && j < tl; ++j) same = s[j] == static_cast<uint8_t>(kHvManifestType[j]);
        if (!same) {
          // Quote at most 39 bytes, non-printable ones as '?', always NUL-terminated.
          char got[40];
          size_t k = 0;
          for (; k < s.size() && k < sizeof got - 1; ++k) got[k] = s[k] >= 0x20 && s[k] < 0x7f ? static_cast<char>(s[k]) : '?';
          got[k] = '\0';
          return Status::fail(Err::malformed, "hv-manifest: type \"%s\" is not \"%s\"", got, kHvManifestType);
        }
        break;
      }
      case 2:
        if (!(st = r.read_text(s))) return field_error(f, st);
        REDOUBT_TRY(copy_text(s, out.name, sizeof out.name, f));
        break;
      case 3:
        if (!(st = r.read_text(s))) return field_error(f, st);
        REDOUBT_TRY(copy_text(s, out.version, sizeof out.version, f));
        break;
      case 4:
        if (!(st = r.read_uint(out.svn))) return field_error(f, st);
        break;
      case 5: {
        uint64_t a;
        if (!(st = r.read_uint(a))) return field_error(f, st);
        // TPM 2.0 Part 2 §6.3 TPM_ALG_ID; we sign images with SHA-256 or SHA-384.
        if (a == 0x000B) out.digest_alg = HashAlg::sha256;
        else if (a == 0x000C) out.digest_alg = HashAlg::sha384;
        else return Status::fail(Err::unsupported, "hv-manifest: digest_alg 0x%04llx is not sha256 (0x000b) or sha384 (0x000c)",
                                 static_cast<unsigned long long>(a));
        break;
      }
      case 6:
        if (!(st = r.read_bytes(digest))) return field_error(f, st);
        break;
      case 7:
        if (!(st = r.read_uint(out.image_size))) return field_error(f, st);
        break;
      case 8:
        if (!(st = r.read_bytes(s))) return field_error(f, st);
        if (s.size() != sizeof out.signer_kid)
          return Status::fail(Err::malformed, "hv-manifest: signer is %zu bytes, expected 32 (SHA-256 key id)", s.size());
        for (size_t j = 0; j < s.size(); ++j) out.signer_kid[j] = s[j];
        break;
    }
  }
  for (uint64_t k = 1; k <= kMaxKey; ++k)
    if (!(seen & (1u << k))) return Status::fail(Err::malformed, "hv-manifest: missing key %llu (%s)", static_cast<unsigned long long>(k), kFieldNames[k]);
  if (!r.at_end()) return Status::fail(Err::malformed, "hv-manifest: %zu trailing bytes after the map", r.rest().size());
  if (digest.size() != digest_size(out.digest_alg))
    return Status::fail(Err::malformed, "hv-manifest: digest is %zu bytes, %s needs %zu", digest.size(), hash_alg_name(out.digest_alg),
                        digest_size(out.digest_alg));
  for (size_t j = 0; j < digest.size(); ++j) out.digest[j] = digest[j];
  return Status::ok();
}

}  // namespace redoubt::policy
