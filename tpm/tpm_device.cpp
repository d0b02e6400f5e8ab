// TpmSpec parsing, open_tpm, and the ESAPI helpers shared by every backend.
#include "tpm/tpm_device.hpp"

#include <tss2/tss2_esys.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "tpm/backends.hpp"
#include "tpm/tpm_rc.hpp"

namespace redoubt::tpm {

// ---------------------------------------------------------------- TpmSpec

namespace {

uint16_t parse_port(const std::string& key, const std::string& v) {
  if (v.empty() || v.size() > 5 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw std::invalid_argument("--tpm: " + key + "=" + v + " is not a port number (1-65535)");
  unsigned long n = std::stoul(v);
  if (n == 0 || n > 65535)
    throw std::invalid_argument("--tpm: " + key + "=" + v + " is out of range (1-65535)");
  return static_cast<uint16_t>(n);
}

// "k=v,k=v" -> calls f(k, v) for each; rejects empty items and missing '='.
template <class F>
void for_each_kv(const std::string& kind, const std::string& s, F f) {
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(pos, end - pos);
    size_t eq = item.find('=');
    if (item.empty() || eq == std::string::npos || eq == 0)
      throw std::invalid_argument("--tpm " + kind + ": expected key=value, got '" + item + "'");
    f(item.substr(0, eq), item.substr(eq + 1));
    pos = end + 1;
  }
}

}  // namespace

// Accepted forms:
//   inproc                      libtpms in-process, fresh temporary NV state
//   inproc:state=DIR            ... NV state kept in DIR
//   swtpm                       spawn a private swtpm (temporary state)
//   swtpm:state=DIR             spawn a private swtpm with --tpmstate dir=DIR
//   swtpm:...,setup=CONF        spawn; first run `swtpm_setup --tpm2 --ecc --create-ek-cert
//                               --create-platform-cert --config CONF` if the state dir is fresh
//   swtpm:host=H,port=P[,ctrl=C]  connect to a running swtpm (ctrl defaults to P+1)
//   device  | device:/dev/PATH  kernel TPM device (default /dev/tpmrm0)
TpmSpec TpmSpec::parse(const std::string& spec) {
  TpmSpec t;
  const size_t colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const bool has_args = colon != std::string::npos;
  const std::string args = has_args ? spec.substr(colon + 1) : std::string();

  if (kind == "inproc") {
    t.kind = Kind::inproc;
    if (has_args) {
      for_each_kv(kind, args, [&](const std::string& k, const std::string& v) {
        if (k == "state" && !v.empty()) t.state_dir = v;
        else throw std::invalid_argument("--tpm inproc: unknown or empty option '" + k + "' (known: state=DIR)");
      });
    }
    return t;
  }
  if (kind == "swtpm") {
    bool have_host = false, have_port = false, have_ctrl = false;
    if (has_args) {
      for_each_kv(kind, args, [&](const std::string& k, const std::string& v) {
        if (k == "host" && !v.empty()) { t.host = v; have_host = true; }
        else if (k == "port") { t.port = parse_port(k, v); have_port = true; }
        else if (k == "ctrl") { t.ctrl_port = parse_port(k, v); have_ctrl = true; }
        else if (k == "state" && !v.empty()) t.state_dir = v;
        else if (k == "setup" && !v.empty()) t.setup_config = v;
        else throw std::invalid_argument("--tpm swtpm: unknown or empty option '" + k +
                                         "' (known: host=H, port=P, ctrl=C, state=DIR, setup=CONF)");
      });
    }
    if (have_port) {
      if (!t.state_dir.empty())
        throw std::invalid_argument("--tpm swtpm: state=DIR only applies to a spawned swtpm, not with port=");
      if (!t.setup_config.empty())
        throw std::invalid_argument("--tpm swtpm: setup=CONF only applies to a spawned swtpm, not with port=");
      if (!have_ctrl) {
        if (t.port == 65535) throw std::invalid_argument("--tpm swtpm: port=65535 leaves no room for ctrl=port+1");
        t.ctrl_port = static_cast<uint16_t>(t.port + 1);
      }
      if (t.ctrl_port == t.port) throw std::invalid_argument("--tpm swtpm: ctrl port equals the data port");
      t.kind = Kind::swtpm_connect;
    } else {
      if (have_host || have_ctrl)
        throw std::invalid_argument("--tpm swtpm: host=/ctrl= need port=P (without port a private swtpm is spawned)");
      t.kind = Kind::swtpm_spawn;
    }
    return t;
  }
  if (kind == "device") {
    t.kind = Kind::device;
    t.device_path = has_args ? args : "/dev/tpmrm0";
    if (t.device_path.empty() || t.device_path[0] != '/')
      throw std::invalid_argument("--tpm device: expected an absolute path, got '" + t.device_path + "'");
    return t;
  }
  throw std::invalid_argument("--tpm: unknown TPM kind '" + kind +
                              "' (expected inproc, swtpm, swtpm:host=H,port=P or device:/dev/tpmrm0)");
}

// Canonical form: parse(describe()) gives the same spec.
std::string TpmSpec::describe() const {
  switch (kind) {
    case Kind::inproc: return state_dir.empty() ? "inproc" : "inproc:state=" + state_dir;
    case Kind::swtpm_spawn: {
      std::string opts = state_dir.empty() ? "" : "state=" + state_dir;
      if (!setup_config.empty()) opts += (opts.empty() ? "" : ",") + std::string("setup=") + setup_config;
      return opts.empty() ? "swtpm" : "swtpm:" + opts;
    }
    case Kind::swtpm_connect:
      return "swtpm:host=" + host + ",port=" + std::to_string(port) + ",ctrl=" + std::to_string(ctrl_port);
    case Kind::device: return "device:" + device_path;
  }
  return "?";
}

std::unique_ptr<TpmDevice> open_tpm(const TpmSpec& spec) {
  // Expected TPM errors (locality tests, probing NV indices) must not spam stderr.
  setenv("TSS2_LOG", "all+NONE", 0);
  switch (spec.kind) {
    case TpmSpec::Kind::inproc: return make_inproc_tpm(spec);
    case TpmSpec::Kind::swtpm_spawn:
    case TpmSpec::Kind::swtpm_connect: return make_swtpm_tpm(spec);
    case TpmSpec::Kind::device: return make_device_tpm(spec);
  }
  throw std::invalid_argument("open_tpm: bad kind");
}

// ---------------------------------------------------------------- ESAPI helpers

TpmDevice::~TpmDevice() = default;

BankList TpmDevice::active_banks() {
  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA* cap = nullptr;
  check_rc(Esys_GetCapability(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_PCRS, 0, 1, &more, &cap),
           "TPM2_GetCapability(PCRS)", locality_);
  BankList out;
  const TPML_PCR_SELECTION& sel = cap->data.assignedPCR;
  for (uint32_t i = 0; i < sel.count && out.count < BankList::kMax; ++i) {
    HashAlg alg;
    if (!hash_alg_from_id(sel.pcrSelections[i].hash, alg)) continue;
    bool any = false;
    for (uint8_t b = 0; b < sel.pcrSelections[i].sizeofSelect; ++b) any |= sel.pcrSelections[i].pcrSelect[b] != 0;
    if (any) out.alg[out.count++] = alg;
  }
  Esys_Free(cap);
  return out;
}

void TpmDevice::pcr_extend(uint32_t pcr, const DigestList& digests) {
  const std::string what = "TPM2_PCR_Extend(pcr " + std::to_string(pcr) + ")";
  if (pcr > 23) throw TpmError(what + ": no such PCR");
  if (digests.count > DigestList::kMax) throw TpmError(what + ": too many digests");
  TPML_DIGEST_VALUES v{};
  v.count = digests.count;
  for (uint32_t i = 0; i < digests.count; ++i) {
    v.digests[i].hashAlg = static_cast<TPMI_ALG_HASH>(digests.d[i].alg);
    std::copy_n(digests.d[i].bytes, digests.d[i].size(), reinterpret_cast<uint8_t*>(&v.digests[i].digest));
  }
  check_rc(Esys_PCR_Extend(esys_, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &v), what,
           locality_);
}

std::map<HashAlg, std::map<uint32_t, std::vector<uint8_t>>> TpmDevice::pcr_read(const std::vector<uint32_t>& pcrs) {
  std::map<HashAlg, std::map<uint32_t, std::vector<uint8_t>>> out;
  for (uint32_t p : pcrs)
    if (p > 23) throw TpmError("TPM2_PCR_Read: no such PCR " + std::to_string(p));
  if (pcrs.empty()) return out;
  const BankList banks = active_banks();
  // Remaining PCR bitmap per bank. All banks go into one selection; the TPM returns at most
  // 8 digests per call (TPML_DIGEST) and says in pcrSelectionOut which: ask again for the rest.
  uint32_t pending[BankList::kMax] = {};
  for (uint32_t b = 0; b < banks.count; ++b)
    for (uint32_t p : pcrs) pending[b] |= 1u << p;
  for (;;) {
    TPML_PCR_SELECTION in{};
    for (uint32_t b = 0; b < banks.count; ++b) {
      if (!pending[b]) continue;
      TPMS_PCR_SELECTION& s = in.pcrSelections[in.count++];
      s.hash = static_cast<TPMI_ALG_HASH>(banks.alg[b]);
      s.sizeofSelect = 3;
      for (int i = 0; i < 3; ++i) s.pcrSelect[i] = static_cast<uint8_t>(pending[b] >> (8 * i));
    }
    if (in.count == 0) break;
    UINT32 update = 0;
    TPML_PCR_SELECTION* sel_out = nullptr;
    TPML_DIGEST* values = nullptr;
    check_rc(Esys_PCR_Read(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &in, &update, &sel_out, &values),
             "TPM2_PCR_Read", locality_);
    // Digests come in selection order: bank by bank, PCRs ascending.
    uint32_t k = 0;
    bool ok = true;
    for (uint32_t i = 0; i < sel_out->count && ok; ++i) {
      HashAlg alg;
      uint32_t b = 0;
      ok = hash_alg_from_id(sel_out->pcrSelections[i].hash, alg);
      while (ok && b < banks.count && banks.alg[b] != alg) ++b;
      ok = ok && b < banks.count;
      for (uint32_t p = 0; ok && p < 24; ++p) {
        if (!(sel_out->pcrSelections[i].pcrSelect[p / 8] & (1u << (p % 8)))) continue;
        ok = k < values->count && (pending[b] & (1u << p)) && values->digests[k].size == digest_size(alg);
        if (!ok) break;
        out[alg][p].assign(values->digests[k].buffer, values->digests[k].buffer + values->digests[k].size);
        pending[b] &= ~(1u << p);
        ++k;
      }
    }
    ok = ok && k > 0 && k == values->count;
    Esys_Free(sel_out);
    Esys_Free(values);
    if (!ok) throw TpmError("TPM2_PCR_Read: TPM returned no or inconsistent digests");
  }
  return out;
}

// --- NV counter ---------------------------------------------------------------
// The anti-rollback counter is a TPM_NT_COUNTER index in the owner hierarchy with
//   OWNERWRITE            increment only with owner authorization: an empty-auth
//                         AUTHWRITE would let any code (a guest at locality 0)
//                         burn through versions and brick the next launch;
//   OWNERREAD | AUTHREAD  read with owner auth or with the index's own authValue,
//                         which is empty: the value is not secret, so the SL at
//                         locality 2 reads it without knowing the owner auth;
//   NO_DA                 a wrong auth attempt must not arm dictionary-attack lockout.
// Not ORDERLY: every increment is committed to NV at once, so a power cut without
// TPM2_Shutdown never loses an increment (the property a rollback counter needs).
namespace {
constexpr TPMA_NV kCounterAttrs = (TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_OWNERWRITE |
                                  TPMA_NV_OWNERREAD | TPMA_NV_AUTHREAD | TPMA_NV_NO_DA;

std::string nv_what(const char* cmd, uint32_t index) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s(0x%08x)", cmd, index);
  return buf;
}
}  // namespace

bool TpmDevice::nv_defined(uint32_t index) {
  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA* cap = nullptr;
  check_rc(Esys_GetCapability(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, index, 1, &more, &cap),
           nv_what("TPM2_GetCapability(HANDLES)", index), locality_);
  const bool found = cap->data.handles.count >= 1 && cap->data.handles.handle[0] == index;
  Esys_Free(cap);
  return found;
}

void TpmDevice::nv_define_counter(uint32_t index) {
  if ((index >> 24) != TPM2_HT_NV_INDEX) throw TpmError(nv_what("TPM2_NV_DefineSpace", index) + ": not an NV index handle");
  TPM2B_AUTH auth{};  // empty authValue (see the attribute comment above)
  TPM2B_NV_PUBLIC pub{};
  pub.nvPublic.nvIndex = index;
  pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
  pub.nvPublic.attributes = kCounterAttrs;
  pub.nvPublic.dataSize = 8;
  ESYS_TR nv = ESYS_TR_NONE;
  check_rc(Esys_NV_DefineSpace(esys_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &auth, &pub, &nv),
           nv_what("TPM2_NV_DefineSpace", index), locality_);
  Esys_TR_Close(esys_, &nv);
  nv_increment(index);  // an unwritten counter cannot be read
}

std::optional<uint64_t> TpmDevice::nv_read_counter(uint32_t index) {
  if (!nv_defined(index)) return std::nullopt;
  ESYS_TR nv = ESYS_TR_NONE;
  check_rc(Esys_TR_FromTPMPublic(esys_, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv),
           nv_what("TPM2_NV_ReadPublic", index), locality_);
  TPM2B_NV_PUBLIC* pub = nullptr;
  TPM2B_NAME* name = nullptr;
  TSS2_RC rc = Esys_NV_ReadPublic(esys_, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name);
  if (rc != TSS2_RC_SUCCESS) {
    Esys_TR_Close(esys_, &nv);
    throw_tpm_rc(nv_what("TPM2_NV_ReadPublic", index), locality_, rc);
  }
  const TPMA_NV attrs = pub->nvPublic.attributes;
  Esys_Free(pub);
  Esys_Free(name);
  if (((attrs & TPMA_NV_TPM2_NT_MASK) >> TPMA_NV_TPM2_NT_SHIFT) != TPM2_NT_COUNTER) {
    Esys_TR_Close(esys_, &nv);
    throw TpmError(nv_what("TPM2_NV_Read", index) + ": index is not a counter");
  }
  if (!(attrs & TPMA_NV_WRITTEN)) {
    Esys_TR_Close(esys_, &nv);
    return std::nullopt;
  }
  TPM2B_MAX_NV_BUFFER* data = nullptr;
  rc = Esys_NV_Read(esys_, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, 8, 0, &data);
  Esys_TR_Close(esys_, &nv);
  check_rc(rc, nv_what("TPM2_NV_Read", index), locality_);
  uint64_t v = 0;
  const bool ok = data->size == 8;
  for (int i = 0; ok && i < 8; ++i) v = (v << 8) | data->buffer[i];  // big-endian UINT64
  Esys_Free(data);
  if (!ok) throw TpmError(nv_what("TPM2_NV_Read", index) + ": counter is not 8 bytes");
  return v;
}

void TpmDevice::nv_increment(uint32_t index) {
  ESYS_TR nv = ESYS_TR_NONE;
  check_rc(Esys_TR_FromTPMPublic(esys_, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv),
           nv_what("TPM2_NV_ReadPublic", index), locality_);
  TSS2_RC rc = Esys_NV_Increment(esys_, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
  Esys_TR_Close(esys_, &nv);
  check_rc(rc, nv_what("TPM2_NV_Increment", index), locality_);
}

std::vector<uint8_t> TpmDevice::get_random(size_t n) {
  std::vector<uint8_t> out;
  out.reserve(n);
  while (out.size() < n) {
    const size_t want = std::min<size_t>(n - out.size(), 32);
    TPM2B_DIGEST* r = nullptr;
    check_rc(Esys_GetRandom(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, static_cast<UINT16>(want), &r),
             "TPM2_GetRandom", locality_);
    out.insert(out.end(), r->buffer, r->buffer + r->size);
    const bool empty = r->size == 0;
    Esys_Free(r);
    if (empty) throw TpmError("TPM2_GetRandom returned no bytes");
  }
  out.resize(n);
  return out;
}

}  // namespace redoubt::tpm

namespace redoubt::tpm {

void tpm_startup_clear(ESYS_CONTEXT* esys, uint8_t locality) {
  check_rc(Esys_Startup(esys, TPM2_SU_CLEAR), "TPM2_Startup(CLEAR)", locality);
}

void flush_transients(ESYS_CONTEXT* esys, uint8_t locality) {
  for (;;) {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA* cap = nullptr;
    check_rc(Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                                TPM2_TRANSIENT_FIRST, TPM2_MAX_CAP_HANDLES, &more, &cap),
             "TPM2_GetCapability(HANDLES transient)", locality);
    std::vector<TPM2_HANDLE> handles;
    for (uint32_t i = 0; i < cap->data.handles.count; ++i)
      if ((cap->data.handles.handle[i] >> 24) == TPM2_HT_TRANSIENT) handles.push_back(cap->data.handles.handle[i]);
    Esys_Free(cap);
    if (handles.empty()) return;
    for (TPM2_HANDLE h : handles) {
      ESYS_TR tr = ESYS_TR_NONE;
      check_rc(Esys_TR_FromTPMPublic(esys, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr),
               "TPM2_ReadPublic(transient)", locality);
      check_rc(Esys_FlushContext(esys, tr), "TPM2_FlushContext", locality);
    }
  }
}

}  // namespace redoubt::tpm
