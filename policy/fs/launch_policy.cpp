#include "policy/fs/launch_policy.hpp"

#include "policy/fs/cbor.hpp"
#include "policy/fs/cbor_strict.hpp"
#include "policy/fs/launch_policy_envelope.hpp"

namespace redoubt::policy {

static_assert(kMaxPolicyAnchors == kMaxAnchors, "the SL's envelope and the full decoder agree on the anchor cap");
static_assert(sizeof(kLaunchPolicyType) == sizeof("redoubt.launch-policy/1"));
namespace {

constexpr const char* kFields[] = {"",        "type",        "name",    "serial",   "time",        "anchors",
                                   "profile", "revocations", "min_svn", "unsigned", "guest_cpuid", "guest_io"};
constexpr uint64_t kMaxKey = 11;

Status fail(Refusal& why, Refusal r, const Status& st) { return refuse(why, r, "launch-policy", st); }
#define LP_TRY(expr)                                              \
  do {                                                            \
    ::redoubt::Status _s = (expr);                                \
    if (!_s) return fail(why, Refusal::malformed, _s);            \
  } while (0)
#define LP_FAIL(r, ...) return fail(why, (r), Status::fail(Err::malformed, __VA_ARGS__))

Status field(const char* f, const Status& st) { return Status::fail(Err::malformed, "field %s: %s", f, st.message()); }

Status read_u32(CborReader& r, uint32_t& v, uint64_t max, const char* what) {
  uint64_t x;
  Status st = r.read_uint(x);
  if (!st) return Status::fail(Err::malformed, "%s: %s", what, st.message());
  if (x > max) return Status::fail(Err::malformed, "%s: %llu is above %llu", what, static_cast<unsigned long long>(x), static_cast<unsigned long long>(max));
  v = static_cast<uint32_t>(x);
  return Status::ok();
}

Status read_array_n(CborReader& r, uint64_t& n, size_t cap, const char* what, const char* cap_name, Refusal& why, bool& over) {
  over = false;
  Status st = r.read_array(n);
  if (!st) return Status::fail(Err::malformed, "%s: %s", what, st.message());
  if (n > cap) {
    over = true;
    why = Refusal::over_cap;
    return Status::fail(Err::malformed, "%s: %llu entries, the cap %s is %zu", what, static_cast<unsigned long long>(n), cap_name, cap);
  }
  return Status::ok();
}

#define LP_ARRAY(r, n, cap, what)                                            \
  do {                                                                       \
    bool _over;                                                              \
    Status _s = read_array_n(r, n, cap, what, #cap, why, _over);             \
    if (!_s) return fail(why, _over ? Refusal::over_cap : Refusal::malformed, _s); \
  } while (0)

Status decode_profile(CborReader& r, CertProfile& p, Refusal& why) {
  StrictMap m(r, "profile", 5);
  uint64_t n;
  LP_TRY(m.open(n));
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t k;
    LP_TRY(m.key(k));
    switch (k) {
      case 1: {
        std::span<const uint8_t> oid;
        LP_TRY(r.read_bytes(oid));
        if (oid.empty() || oid.size() > kMaxOidLen || (oid[oid.size() - 1] & 0x80))
          LP_FAIL(Refusal::malformed, "profile: eku is not an OID of 1..%zu content octets", kMaxOidLen);
        for (size_t j = 0; j < oid.size(); ++j) p.eku[j] = oid[j];
        p.eku_len = oid.size();
        break;
      }
      case 2: LP_TRY(read_u32(r, p.max_intermediates, kMaxChain - 1, "profile: max_intermediates")); break;
      case 3: {
        uint32_t v;
        LP_TRY(read_u32(r, v, 0x1ff, "profile: leaf_key_usage"));
        p.leaf_key_usage = static_cast<uint16_t>(v);
        break;
      }
      case 4: {
        uint32_t v;
        LP_TRY(read_u32(r, v, 0x1ff, "profile: ca_key_usage"));
        p.ca_key_usage = static_cast<uint16_t>(v);
        break;
      }
      case 5: LP_TRY(read_u32(r, p.min_rsa_bits, 4096, "profile: min_rsa_bits")); break;
    }
  }
  for (uint64_t k = 1; k <= 5; ++k)
    if (!m.seen(k)) LP_FAIL(Refusal::malformed, "profile: missing key %llu", static_cast<unsigned long long>(k));
  if (!(p.leaf_key_usage & kKuDigitalSignature)) LP_FAIL(Refusal::malformed, "profile: leaf_key_usage must include digitalSignature (1)");
  if (!(p.ca_key_usage & kKuKeyCertSign)) LP_FAIL(Refusal::malformed, "profile: ca_key_usage must include keyCertSign (32)");
  if (p.min_rsa_bits < 2048) LP_FAIL(Refusal::malformed, "profile: min_rsa_bits %u is below 2048", p.min_rsa_bits);
  return Status::ok();
}

Status decode_revocations(CborReader& r, LaunchPolicy& out, Refusal& why) {
  uint64_t n;
  LP_ARRAY(r, n, kMaxRevocations, "revocations");
  for (uint64_t i = 0; i < n; ++i) {
    Revocation& rv = out.revocations[i];
    uint64_t m, kind;
    std::span<const uint8_t> d, serial;
    LP_TRY(r.read_array(m));
    LP_TRY(r.read_uint(kind));
    if (!((kind == 1 && m == 3) || (kind == 2 && m == 2)))
      LP_FAIL(Refusal::malformed, "revocation %llu: expected [1, issuer digest, serial] or [2, spki digest]", static_cast<unsigned long long>(i));
    LP_TRY(r.read_bytes(d));
    if (d.size() != 32) LP_FAIL(Refusal::malformed, "revocation %llu: digest is %zu bytes, expected 32 (SHA-256)", static_cast<unsigned long long>(i), d.size());
    for (size_t j = 0; j < 32; ++j) rv.digest[j] = d[j];
    rv.kind = kind == 1 ? Revocation::by_serial : Revocation::by_spki;
    if (kind == 1) {
      LP_TRY(r.read_bytes(serial));
      if (serial.empty() || serial.size() > sizeof rv.serial)
        LP_FAIL(Refusal::malformed, "revocation %llu: serial is %zu bytes (1..21)", static_cast<unsigned long long>(i), serial.size());
      for (size_t j = 0; j < serial.size(); ++j) rv.serial[j] = serial[j];
      rv.serial_len = serial.size();
    }
  }
  out.revocation_count = n;
  return Status::ok();
}

bool text_less(const char* a, const char* b) {
  for (;; ++a, ++b) {
    if (*a != *b) return static_cast<uint8_t>(*a) < static_cast<uint8_t>(*b);
    if (!*a) return false;
  }
}

}  // namespace

Status launch_policy_decode(std::span<const uint8_t> payload, LaunchPolicy& out, Refusal& why) {
  out = LaunchPolicy{};
  why = Refusal::none;
  out.payload = payload;
  CborReader r(payload);
  StrictMap m(r, "payload", kMaxKey);
  uint64_t n;
  LP_TRY(m.open(n));
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t k;
    LP_TRY(m.key(k));
    const char* f = kFields[k];
    std::span<const uint8_t> s;
    Status st;
    switch (k) {
      case 1:
        if (!(st = r.read_text(s))) return fail(why, Refusal::malformed, field(f, st));
        if (!text_is(s, kLaunchPolicyType)) LP_FAIL(Refusal::malformed, "type is not \"%s\"", kLaunchPolicyType);
        break;
      case 2:
        if (!(st = r.read_text(s))) return fail(why, Refusal::malformed, field(f, st));
        LP_TRY(strict_text(s, out.name, sizeof out.name, "name"));
        break;
      case 3:
        if (!(st = r.read_uint(out.serial))) return fail(why, Refusal::malformed, field(f, st));
        break;
      case 4:
        if (!(st = r.read_uint(out.time))) return fail(why, Refusal::malformed, field(f, st));
        if (out.time > 253402300799ull) LP_FAIL(Refusal::malformed, "time is after 9999-12-31");
        break;
      case 5: {
        uint64_t c;
        LP_ARRAY(r, c, kMaxAnchors, "anchors");
        if (c == 0) LP_FAIL(Refusal::malformed, "anchors: empty (at least one trust anchor is required)");
        for (uint64_t a = 0; a < c; ++a) {
          if (!(st = r.read_bytes(s))) return fail(why, Refusal::malformed, field(f, st));
          X509Cert& ta = out.anchors[a];
          Refusal cw;
          st = x509_parse(s, ta, cw);
          if (!st) return fail(why, cw, Status::fail(Err::malformed, "anchor %llu: %s", static_cast<unsigned long long>(a), st.message()));
          if (!ta.self_issued || !ta.has_bc || !ta.ca || !ta.has_ku || !(ta.ku & kKuKeyCertSign))
            LP_FAIL(Refusal::not_ca, "anchor %llu is not a root CA certificate (self-issued, CA:TRUE, keyCertSign)", static_cast<unsigned long long>(a));
        }
        out.anchor_count = c;
        break;
      }
      case 6: REDOUBT_TRY(decode_profile(r, out.profile, why)); break;
      case 7: REDOUBT_TRY(decode_revocations(r, out, why)); break;
      case 8: {
        uint64_t c;
        LP_ARRAY(r, c, kMaxMinSvn, "min_svn");
        for (uint64_t j = 0; j < c; ++j) {
          uint64_t two;
          LP_TRY(r.read_array(two));
          if (two != 2) LP_FAIL(Refusal::malformed, "min_svn %llu: expected [name, svn]", static_cast<unsigned long long>(j));
          LP_TRY(r.read_text(s));
          LP_TRY(strict_text(s, out.min_svn[j].name, sizeof out.min_svn[j].name, "min_svn name"));
          LP_TRY(r.read_uint(out.min_svn[j].svn));
          if (j > 0 && !text_less(out.min_svn[j - 1].name, out.min_svn[j].name))
            LP_FAIL(Refusal::malformed, "min_svn: names not strictly ascending at entry %llu", static_cast<unsigned long long>(j));
        }
        out.min_svn_count = c;
        break;
      }
      case 9: {
        uint64_t v;
        if (!(st = r.read_uint(v))) return fail(why, Refusal::malformed, field(f, st));
        if (v > 1) LP_FAIL(Refusal::malformed, "unsigned: %llu is not 0 (refuse) or 1 (allow, unmeasured)", static_cast<unsigned long long>(v));
        out.unsigned_guests = static_cast<UnsignedGuests>(v);
        break;
      }
      case 10: {
        uint64_t c;
        LP_ARRAY(r, c, kMaxCpuidMasks, "guest_cpuid");
        for (uint64_t j = 0; j < c; ++j) {
          uint64_t four;
          uint32_t reg;
          CpuidMask& cm = out.cpuid[j];
          LP_TRY(r.read_array(four));
          if (four != 4) LP_FAIL(Refusal::malformed, "guest_cpuid %llu: expected [leaf, subleaf, reg, clear]", static_cast<unsigned long long>(j));
          LP_TRY(read_u32(r, cm.leaf, 0xffffffffu, "guest_cpuid leaf"));
          LP_TRY(read_u32(r, cm.subleaf, 0xffffffffu, "guest_cpuid subleaf"));
          LP_TRY(read_u32(r, reg, 3, "guest_cpuid reg"));
          cm.reg = static_cast<uint8_t>(reg);
          LP_TRY(read_u32(r, cm.clear, 0xffffffffu, "guest_cpuid clear"));
        }
        out.cpuid_count = c;
        break;
      }
      case 11: {
        uint64_t c;
        LP_ARRAY(r, c, kMaxIoRanges, "guest_io");
        for (uint64_t j = 0; j < c; ++j) {
          uint64_t two;
          uint32_t a, b;
          LP_TRY(r.read_array(two));
          if (two != 2) LP_FAIL(Refusal::malformed, "guest_io %llu: expected [first, last]", static_cast<unsigned long long>(j));
          LP_TRY(read_u32(r, a, 0xffff, "guest_io first"));
          LP_TRY(read_u32(r, b, 0xffff, "guest_io last"));
          if (b < a || (j > 0 && a <= out.io[j - 1].last))
            LP_FAIL(Refusal::malformed, "guest_io %llu: range 0x%x-0x%x is reversed, overlapping or out of order", static_cast<unsigned long long>(j), a, b);
          out.io[j] = IoRange{static_cast<uint16_t>(a), static_cast<uint16_t>(b)};
        }
        out.io_count = c;
        break;
      }
    }
  }
  for (uint64_t k = 1; k <= 6; ++k)
    if (!m.seen(k)) LP_FAIL(Refusal::malformed, "missing key %llu (%s)", static_cast<unsigned long long>(k), kFields[k]);
  if (!r.at_end()) LP_FAIL(Refusal::malformed, "%zu trailing bytes after the map", r.rest().size());
  return Status::ok();
}

Status launch_policy_verify(std::span<const uint8_t> cose, const PublicKey& owner, LaunchPolicy& out, Refusal& why) {
  out = LaunchPolicy{};
  CoseSign1 msg;
  Status st = cose_sign1_parse(cose, msg);
  if (!st) return fail(why, st.code() == Err::unsupported ? Refusal::unsupported : Refusal::malformed, st);
  st = cose_sign1_verify(msg, owner);
  if (!st) return fail(why, st.code() == Err::malformed ? Refusal::malformed : Refusal::policy_signature, st);
  return launch_policy_decode(msg.payload, out, why);
}

uint64_t policy_min_svn(const LaunchPolicy& p, std::span<const uint8_t> name) {
  for (size_t i = 0; i < p.min_svn_count; ++i)
    if (text_is(name, p.min_svn[i].name)) return p.min_svn[i].svn;
  return 0;
}

}  // namespace redoubt::policy
