#include "attestation/agent/ek_nv.hpp"

#include <openssl/x509.h>
#include <tss2/tss2_esys.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "attestation/common/attest_error.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "tpm/tpm_rc.hpp"

namespace redoubt::attest {
using tpm::check_rc;
namespace {

// Well under MAX_NV_BUFFER_SIZE (1024 in libtpms/swtpm; TPM2_PT_NV_BUFFER_MAX, Part 2 §6.13).
constexpr uint16_t kNvChunk = 512;

std::string hex_index(uint32_t index) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", index);
  return b;
}

// ESYS_TR for an NV index (TPM2_NV_ReadPublic under the hood); closed on scope exit.
struct NvHandle {
  ESYS_CONTEXT* e;
  ESYS_TR tr = ESYS_TR_NONE;
  NvHandle(tpm::TpmDevice& tpm, uint32_t index) : e(tpm.esys()) {
    check_rc(Esys_TR_FromTPMPublic(e, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr),
             "TPM2_NV_ReadPublic(" + hex_index(index) + ")", tpm.locality());
  }
  ~NvHandle() {
    if (tr != ESYS_TR_NONE) Esys_TR_Close(e, &tr);
  }
};

bool certifies(std::span<const uint8_t> der, const TPMT_PUBLIC& ek) {
  const unsigned char* p = der.data();
  std::unique_ptr<X509, decltype(&X509_free)> c(d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
  if (!c) return false;
  policy::EvpKey key = public_to_evp(ek);
  return EVP_PKEY_eq(X509_get0_pubkey(c.get()), key.get()) == 1;
}

}  // namespace

std::optional<Bytes> nv_read_blob(tpm::TpmDevice& tpm, uint32_t index) {
  if (!tpm.nv_defined(index)) return std::nullopt;
  NvHandle nv(tpm, index);
  TPM2B_NV_PUBLIC* pub = nullptr;
  check_rc(Esys_NV_ReadPublic(tpm.esys(), nv.tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, nullptr),
           "TPM2_NV_ReadPublic(" + hex_index(index) + ")", tpm.locality());
  const uint16_t size = pub->nvPublic.dataSize;
  const bool written = (pub->nvPublic.attributes & TPMA_NV_WRITTEN) != 0;
  Esys_Free(pub);
  if (!written) throw tpm::TpmError("NV index " + hex_index(index) + " is defined but was never written");
  Bytes out;
  out.reserve(size);
  for (uint16_t off = 0; off < size;) {
    const uint16_t n = std::min<uint16_t>(kNvChunk, static_cast<uint16_t>(size - off));
    TPM2B_MAX_NV_BUFFER* data = nullptr;
    // Part 3 §31.13: authHandle = the index itself (TPMA_NV_AUTHREAD, empty authValue).
    check_rc(Esys_NV_Read(tpm.esys(), nv.tr, nv.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n, off, &data),
             "TPM2_NV_Read(" + hex_index(index) + ", offset " + std::to_string(off) + ")", tpm.locality());
    out.insert(out.end(), data->buffer, data->buffer + data->size);
    const bool progress = data->size > 0;
    off = static_cast<uint16_t>(off + data->size);
    Esys_Free(data);
    if (!progress) throw tpm::TpmError("TPM2_NV_Read(" + hex_index(index) + ") returned no data");
  }
  return out;
}

void nv_store_ek_certificate(tpm::TpmDevice& tpm, uint32_t index, std::span<const uint8_t> data) {
  ESYS_CONTEXT* e = tpm.esys();
  if (data.empty() || data.size() > 2048) throw AttestError("internal", "EK certificate of " + std::to_string(data.size()) + " bytes", 500);
  if (tpm.nv_defined(index)) {
    NvHandle old(tpm, index);
    // Part 3 §31.4: a TPMA_NV_PLATFORMCREATE index is deleted with platform authorisation.
    check_rc(Esys_NV_UndefineSpace(e, ESYS_TR_RH_PLATFORM, old.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE),
             "TPM2_NV_UndefineSpace(" + hex_index(index) + ")", tpm.locality());
    old.tr = ESYS_TR_NONE;  // the ESYS_TR is gone with the index
  }
  TPM2B_AUTH auth{};
  TPM2B_NV_PUBLIC pub{};
  pub.nvPublic.nvIndex = index;
  pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
  pub.nvPublic.attributes = kEkCertNvAttributes;  // TPM_NT_ORDINARY (TPMA_NV_TPM_NT = 0)
  pub.nvPublic.dataSize = static_cast<uint16_t>(data.size());
  ESYS_TR nv = ESYS_TR_NONE;
  check_rc(Esys_NV_DefineSpace(e, ESYS_TR_RH_PLATFORM, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &auth, &pub, &nv),
           "TPM2_NV_DefineSpace(" + hex_index(index) + ", platform)", tpm.locality());
  try {
    for (size_t off = 0; off < data.size();) {
      TPM2B_MAX_NV_BUFFER chunk{};
      chunk.size = static_cast<uint16_t>(std::min<size_t>(kNvChunk, data.size() - off));
      std::memcpy(chunk.buffer, data.data() + off, chunk.size);
      check_rc(Esys_NV_Write(e, ESYS_TR_RH_PLATFORM, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &chunk, static_cast<uint16_t>(off)),
               "TPM2_NV_Write(" + hex_index(index) + ")", tpm.locality());
      off += chunk.size;
    }
    // Part 3 §31.11: with TPMA_NV_WRITEDEFINE the lock holds until the index is deleted.
    check_rc(Esys_NV_WriteLock(e, ESYS_TR_RH_PLATFORM, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE),
             "TPM2_NV_WriteLock(" + hex_index(index) + ")", tpm.locality());
  } catch (...) {
    Esys_TR_Close(e, &nv);
    throw;
  }
  Esys_TR_Close(e, &nv);
}

Bytes ek_certificate_from_nv(tpm::TpmDevice& tpm, TpmIdentity& id, const ManufacturerCa* sim_ca) {
  const TPMT_PUBLIC& ek = id.ek_public().publicArea;
  const uint32_t index = id.ek_cert_index();
  std::optional<Bytes> der = nv_read_blob(tpm, index);
  if (der && certifies(*der, ek)) return *der;
  if (!sim_ca) {
    throw AttestError("no_ek_certificate", der ? "the certificate in NV " + hex_index(index) + " does not certify this TPM's EK"
                                               : "the TPM has no EK certificate in NV " + hex_index(index) +
                                                     " (swtpm: provision with --tpm swtpm:setup=CONF, i.e. swtpm_setup --create-ek-cert)",
                      500);
  }
  const Bytes issued = issue_ek_certificate(*sim_ca, ek, to_hex(tpm_object_name(ek)).substr(4, 16));
  nv_store_ek_certificate(tpm, index, issued);
  Bytes back = nv_read_blob(tpm, index).value_or(Bytes{});
  if (back != issued) throw AttestError("tpm", "NV " + hex_index(index) + " does not read back the EK certificate just written", 500);
  return back;
}

}  // namespace redoubt::attest
