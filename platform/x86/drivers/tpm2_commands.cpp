#include "platform/x86/drivers/tpm2_commands.hpp"

#include "arch/tpm/tpm2.hpp"
#include "platform/x86/drivers/tpm2_wire.hpp"

namespace redoubt::x86::tpm2 {

namespace a = arch::tpm2;

const char* rc_name(uint32_t rc) {
  if (rc & a::kRcFormat1) {
    // Format one (Part 2 §6.6.2): bits 5:0 the error, bit 6 parameter, bits 11:8 which handle/session/parameter.
    switch (0x80 | (rc & 0x3F)) {
      case 0x083: return "TPM_RC_HASH";
      case 0x084: return "TPM_RC_VALUE";
      case 0x08B: return "TPM_RC_HANDLE";
      case 0x08E: return "TPM_RC_AUTH_FAIL";
      case 0x095: return "TPM_RC_SIZE";
      case 0x097: return "TPM_RC_TAG";
      case 0x0A2: return "TPM_RC_BAD_AUTH";
      default: return "TPM_RC_? (format one)";
    }
  }
  switch (rc) {
    case 0x100: return "TPM_RC_INITIALIZE";
    case a::kRcFailure: return "TPM_RC_FAILURE";
    case 0x12F: return "TPM_RC_AUTH_UNAVAILABLE";
    case 0x142: return "TPM_RC_COMMAND_SIZE";
    case a::kRcCommandCode: return "TPM_RC_COMMAND_CODE";
    case a::kRcNvLocked: return "TPM_RC_NV_LOCKED";
    case a::kRcNvAuthorization: return "TPM_RC_NV_AUTHORIZATION";
    case a::kRcNvUninitialized: return "TPM_RC_NV_UNINITIALIZED";
    case a::kRcLocality: return "TPM_RC_LOCALITY";
    case 0x90A: return "TPM_RC_TESTING";
    case 0x921: return "TPM_RC_LOCKOUT";
    case 0x922: return "TPM_RC_RETRY";
    default: return "TPM_RC_?";
  }
}

bool rc_is_nv_absent(uint32_t rc) {
  // An undefined index fails handle checking (TPM_RC_HANDLE for some handle, Part 3
  // §31.13 / Part 1 §18.5); a defined counter never incremented is TPM_RC_NV_UNINITIALIZED.
  return rc == a::kRcNvUninitialized || ((rc & a::kRcFormat1) && (0x80 | (rc & 0x3F)) == a::kRcHandle && !(rc & 0x40));
}

namespace {
// The one authorization every command here uses: TPM_RS_PW with an empty
// password (Part 1 §19.8.4; Part 2 §10.13.2 TPMS_AUTH_COMMAND): handle, empty
// nonce, attributes continueSession, empty hmac (= the password).
void pw_session(Writer& w) {
  w.u32(9);  // authorizationSize: 4 + 2 + 1 + 2
  w.u32(a::kRsPw);
  w.u16(0);
  w.u8(0x01);  // continueSession (ignored for TPM_RS_PW)
  w.u16(0);
}

// TPMS_AUTH_RESPONSE for a password session (Part 2 §10.13.3): empty nonce,
// attributes, empty hmac; nothing may follow it.
Status parse_pw_session(Reader& rd, const char* what) {
  const uint16_t nonce = rd.u16();
  rd.bytes(nullptr, nonce);
  rd.u8();
  const uint16_t hmac = rd.u16();
  rd.bytes(nullptr, hmac);
  if (rd.failed()) return Status::fail(Err::malformed, "%s: response session area is truncated", what);
  if (nonce != 0 || hmac != 0)
    return Status::fail(Err::malformed, "%s: password session response carries a %u-byte nonce and %u-byte hmac (expected none)",
                        what, unsigned(nonce), unsigned(hmac));
  if (rd.remaining() != 0)
    return Status::fail(Err::malformed, "%s: %zu bytes follow the response session", what, rd.remaining());
  return Status::ok();
}
}  // namespace

size_t build_get_capability_pcrs(uint8_t* buf, size_t cap) {
  Writer w(buf, cap);
  w.header(a::kStNoSessions, a::kCcGetCapability);
  w.u32(a::kCapPcrs);
  w.u32(0);  // property: first
  w.u32(1);  // propertyCount: TPM_CAP_PCRS returns the whole TPML_PCR_SELECTION in one answer
  return w.finish();
}

size_t build_pcr_extend(uint8_t* buf, size_t cap, uint32_t pcr, const DigestList& digests) {
  if (digests.count > DigestList::kMax) return 0;
  Writer w(buf, cap);
  w.header(a::kStSessions, a::kCcPcrExtend);
  w.u32(pcr);  // TPMI_DH_PCR: the PCR's handle is its number (Part 2 §7.4, HR_PCR = 0)
  pw_session(w);
  w.u32(digests.count);  // TPML_DIGEST_VALUES (Part 2 §10.9.7)
  for (uint32_t i = 0; i < digests.count; ++i) {
    w.u16(static_cast<uint16_t>(digests.d[i].alg));  // TPMT_HA: hashAlg, then the digest (no size field)
    w.bytes(digests.d[i].bytes, digests.d[i].size());
  }
  return w.finish();
}

size_t build_pcr_event(uint8_t* buf, size_t cap, uint32_t pcr, const uint8_t* data, size_t n) {
  if (n > 1024) return 0;  // TPM2B_EVENT: at most 1024 bytes (Part 2 §10.4.7)
  Writer w(buf, cap);
  w.header(a::kStSessions, a::kCcPcrEvent);
  w.u32(pcr);
  pw_session(w);
  w.u16(static_cast<uint16_t>(n));
  w.bytes(data, n);
  return w.finish();
}

size_t build_nv_read_public(uint8_t* buf, size_t cap, uint32_t nv_index) {
  Writer w(buf, cap);
  w.header(a::kStNoSessions, a::kCcNvReadPublic);
  w.u32(nv_index);
  return w.finish();
}

size_t build_nv_read(uint8_t* buf, size_t cap, uint32_t nv_index, uint16_t size, uint16_t offset) {
  Writer w(buf, cap);
  w.header(a::kStSessions, a::kCcNvRead);
  w.u32(nv_index);  // authHandle: the index itself (TPMA_NV_AUTHREAD, empty authValue)
  w.u32(nv_index);  // nvIndex
  pw_session(w);
  w.u16(size);
  w.u16(offset);
  return w.finish();
}

Status check_response(const uint8_t* r, size_t n, const char* what, uint8_t locality, uint32_t& rc) {
  rc = 0;
  if (n < a::kHeaderSize) return Status::fail(Err::malformed, "%s: %zu-byte response is shorter than its 10-byte header", what, n);
  Reader rd(r, n);
  const uint16_t tag = rd.u16();
  const uint32_t size = rd.u32();
  rc = rd.u32();
  if (tag != a::kStNoSessions && tag != a::kStSessions)
    return Status::fail(Err::malformed, "%s: response tag 0x%x is neither TPM_ST_NO_SESSIONS nor TPM_ST_SESSIONS", what, unsigned(tag));
  if (size != n) return Status::fail(Err::malformed, "%s: response header says %u bytes, %zu received", what, size, n);
  if (rc != a::kRcSuccess)
    return Status::fail(Err::tpm, "%s at locality %u: %s (0x%x)", what, unsigned(locality), rc_name(rc), rc);
  return Status::ok();
}

Status parse_get_capability_pcrs(const uint8_t* r, size_t n, BankList& out) {
  const char* what = "TPM2_GetCapability(TPM_CAP_PCRS)";
  uint32_t rc = 0;
  REDOUBT_TRY(check_response(r, n, what, 0, rc));
  Reader rd(r + a::kHeaderSize, n - a::kHeaderSize);
  rd.u8();  // moreData: TPM_CAP_PCRS fits in one answer
  const uint32_t capability = rd.u32();
  const uint32_t count = rd.u32();  // TPML_PCR_SELECTION (Part 2 §10.9.7)
  if (rd.failed()) return Status::fail(Err::malformed, "%s: response is truncated before the selection list", what);
  if (capability != a::kCapPcrs)
    return Status::fail(Err::malformed, "%s: response is for capability 0x%x", what, capability);
  if (count > 16) return Status::fail(Err::malformed, "%s: %u PCR selections (HASH_COUNT is at most 16)", what, count);
  BankList banks;
  for (uint32_t i = 0; i < count; ++i) {
    const uint16_t hash = rd.u16();  // TPMS_PCR_SELECTION (Part 2 §10.6.2)
    const uint8_t size_of_select = rd.u8();
    uint8_t select[255] = {};
    rd.bytes(select, size_of_select);
    if (rd.failed()) return Status::fail(Err::malformed, "%s: selection %u of %u is truncated", what, i + 1, count);
    bool any = false;
    for (uint8_t b = 0; b < size_of_select; ++b) any |= select[b] != 0;
    HashAlg alg;
    if (!any || !hash_alg_from_id(hash, alg)) continue;  // an empty bank, or one we have no digest for
    if (banks.count == BankList::kMax)
      return Status::fail(Err::unsupported, "%s: more than %zu active PCR banks", what, BankList::kMax);
    banks.alg[banks.count++] = alg;
  }
  if (rd.remaining() != 0) return Status::fail(Err::malformed, "%s: %zu bytes follow the selection list", what, rd.remaining());
  out = banks;
  return Status::ok();
}

Status parse_pcr_event(const uint8_t* r, size_t n, uint8_t locality) {
  uint32_t rc = 0;
  REDOUBT_TRY(check_response(r, n, "TPM2_PCR_Event", locality, rc));
  if (r[1] != (a::kStSessions & 0xFF) || r[0] != (a::kStSessions >> 8))
    return Status::fail(Err::malformed, "TPM2_PCR_Event: a successful response must carry TPM_ST_SESSIONS");
  return Status::ok();
}

Status parse_pcr_extend(const uint8_t* r, size_t n, uint32_t pcr, uint8_t locality) {
  char what[40] = "TPM2_PCR_Extend(pcr ";
  // "TPM2_PCR_Extend(pcr NN)": the PCR named in every message.
  size_t k = 20;
  if (pcr >= 10) what[k++] = char('0' + (pcr / 10) % 10);
  what[k++] = char('0' + pcr % 10);
  what[k++] = ')';
  what[k] = 0;
  uint32_t rc = 0;
  REDOUBT_TRY(check_response(r, n, what, locality, rc));
  Reader rd(r + a::kHeaderSize, n - a::kHeaderSize);
  if (r[1] != (a::kStSessions & 0xFF) || r[0] != (a::kStSessions >> 8))
    return Status::fail(Err::malformed, "%s: a successful response to a command with a session must carry TPM_ST_SESSIONS", what);
  const uint32_t param_size = rd.u32();  // Part 1 §18.9: parameterSize precedes the parameters
  if (rd.failed()) return Status::fail(Err::malformed, "%s: response is truncated before parameterSize", what);
  if (param_size != 0) return Status::fail(Err::malformed, "%s: %u response parameter bytes (PCR_Extend returns none)", what, param_size);
  return parse_pw_session(rd, what);
}

Status parse_nv_read_public(const uint8_t* r, size_t n, uint32_t nv_index, uint8_t locality, NvPublic& out) {
  const char* what = "TPM2_NV_ReadPublic";
  uint32_t rc = 0;
  Status st = check_response(r, n, what, locality, rc);
  if (!st) {
    if (rc_is_nv_absent(rc)) return Status::fail(Err::not_found, "NV index 0x%08x is not defined (%s)", nv_index, rc_name(rc));
    return st;
  }
  Reader rd(r + a::kHeaderSize, n - a::kHeaderSize);
  const uint16_t pub_size = rd.u16();  // TPM2B_NV_PUBLIC (Part 2 §13.6)
  const size_t start = rd.pos();
  NvPublic p;
  p.index = rd.u32();
  p.name_alg = rd.u16();
  p.attributes = rd.u32();
  const uint16_t policy = rd.u16();
  rd.bytes(nullptr, policy);
  p.data_size = rd.u16();
  if (rd.failed()) return Status::fail(Err::malformed, "%s(0x%08x): TPMS_NV_PUBLIC is truncated", what, nv_index);
  if (rd.pos() - start != pub_size)
    return Status::fail(Err::malformed, "%s(0x%08x): TPM2B_NV_PUBLIC size %u but its fields take %zu bytes", what, nv_index,
                        unsigned(pub_size), rd.pos() - start);
  const uint16_t name = rd.u16();
  rd.bytes(nullptr, name);
  if (rd.failed()) return Status::fail(Err::malformed, "%s(0x%08x): nvName is truncated", what, nv_index);
  if (rd.remaining() != 0) return Status::fail(Err::malformed, "%s(0x%08x): %zu bytes follow nvName", what, nv_index, rd.remaining());
  if (p.index != nv_index)
    return Status::fail(Err::malformed, "%s(0x%08x): the TPM answered for index 0x%08x", what, nv_index, p.index);
  out = p;
  return Status::ok();
}

Status parse_nv_read_counter(const uint8_t* r, size_t n, uint32_t nv_index, uint8_t locality, uint64_t& value) {
  const char* what = "TPM2_NV_Read";
  uint32_t rc = 0;
  Status st = check_response(r, n, what, locality, rc);
  if (!st) {
    if (rc_is_nv_absent(rc))
      return Status::fail(Err::not_found, "NV 0x%08x: %s at locality %u (not defined or never incremented)", nv_index,
                          rc_name(rc), unsigned(locality));
    return Status::fail(Err::tpm, "%s(0x%08x) at locality %u: %s (0x%x)", what, nv_index, unsigned(locality), rc_name(rc), rc);
  }
  Reader rd(r + a::kHeaderSize, n - a::kHeaderSize);
  const uint32_t param_size = rd.u32();
  const uint16_t data_size = rd.u16();  // TPM2B_MAX_NV_BUFFER
  uint8_t data[8] = {};
  if (!rd.failed() && data_size == 8) rd.bytes(data, 8);
  if (rd.failed()) return Status::fail(Err::malformed, "%s(0x%08x): response is truncated in its data", what, nv_index);
  if (data_size != 8) return Status::fail(Err::malformed, "%s(0x%08x): %u data bytes, a counter has 8", what, nv_index, unsigned(data_size));
  if (param_size != 2u + 8u)
    return Status::fail(Err::malformed, "%s(0x%08x): parameterSize %u, expected 10", what, nv_index, param_size);
  REDOUBT_TRY(parse_pw_session(rd, what));
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | data[i];  // UINT64, big-endian (Part 2 §13.4 TPM_NT_COUNTER)
  value = v;
  return Status::ok();
}

}  // namespace redoubt::x86::tpm2
