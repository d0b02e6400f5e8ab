// GETSEC leaves and the processor's part of SENTER: SDM vol. 2D GETSEC[SENTER] "Operation" (checks,
// AC RAM load, module authentication, HASH_START at locality 4). SINIT itself is sinit.cpp.
#include "platform/sim/txt/senter.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#include "arch/intel/acm.hpp"

namespace redoubt::sim {

namespace at = arch::txt;
using at::TxtError;

namespace {

CpuFault ud(const std::string& why) { return CpuFault{6, 0, why}; }
CpuFault gp(const std::string& why) { return CpuFault{13, 0, why}; }

std::string hex(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

// The CPU-level preconditions common to every GETSEC leaf (SDM vol. 2D GETSEC, exceptions).
std::optional<CpuFault> getsec_common(const TxtMachine& m) {
  if (!m.smx_supported) return ud("GETSEC is not supported (CPUID.1:ECX.SMX = 0)");
  if (!(m.cpu.cr4 & at::kCr4Smxe)) return ud("CR4.SMXE = 0: SMX is not enabled");
  return std::nullopt;
}

// RSA-2048 PKCS #1 v1.5 / SHA-256 over the signed bytes (acm.hpp), key and signature stored LE.
bool acm_signature_valid(const std::vector<uint8_t>& acm) {
  const auto* h = reinterpret_cast<const at::AcmHeader*>(acm.data());
  uint8_t n_be[256], sig_be[256];
  std::reverse_copy(h->rsa_pub_key, h->rsa_pub_key + 256, n_be);
  std::reverse_copy(h->rsa_sig, h->rsa_sig + 256, sig_be);
  BIGNUM* n = BN_bin2bn(n_be, 256, nullptr);
  BIGNUM* e = BN_new();
  BN_set_word(e, h->rsa_pub_exp);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* kctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* key = nullptr;
  bool ok = params && kctx && EVP_PKEY_fromdata_init(kctx) == 1 &&
            EVP_PKEY_fromdata(kctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  std::vector<uint8_t> msg(at::kAcmSignedHeaderBytes + (acm.size() - at::kAcmUserAreaOffset));
  std::memcpy(msg.data(), acm.data(), at::kAcmSignedHeaderBytes);
  std::memcpy(msg.data() + at::kAcmSignedHeaderBytes, acm.data() + at::kAcmUserAreaOffset, acm.size() - at::kAcmUserAreaOffset);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  ok = ok && md && EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), nullptr, key) == 1 &&
       EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
       EVP_DigestVerify(md, sig_be, 256, msg.data(), msg.size()) == 1;
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(key);
  EVP_PKEY_CTX_free(kctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return ok;
}

// The processor's authentication of the module in AC RAM (SDM vol. 2D GETSEC[SENTER] Operation:
// header checks, the key against the chipset's fused hash, the signature) and Redoubt's revocation
// floor (the chipset's SINIT SVN fuse against the header's TXT SVN).
std::pair<TxtError, std::string> authenticate(const std::vector<uint8_t>& acm, const TxtFuses& f, bool check_sig) {
  if (acm.size() < at::kAcmUserAreaOffset + sizeof(at::AcmInfoTable))
    return {TxtError::acm_malformed, "ACM of " + std::to_string(acm.size()) + " bytes is smaller than its header"};
  at::AcmHeader h;
  std::memcpy(&h, acm.data(), sizeof h);
  if (h.module_type != at::kAcmModuleTypeChipset || h.module_vendor != at::kAcmVendorIntel)
    return {TxtError::acm_malformed, "ACM header: module type " + std::to_string(h.module_type) + ", vendor " +
                                         hex(h.module_vendor) + " (want 2, 0x8086)"};
  if (h.header_version != at::kAcmHeaderVersion0 || h.header_len != at::kAcmHeaderDwords ||
      h.key_size != at::kAcmKeySizeDwords || h.scratch_size != at::kAcmScratchDwords)
    return {TxtError::acm_malformed, "ACM header: version " + hex(h.header_version) + ", header length " +
                                         std::to_string(h.header_len) + " dwords, key size " +
                                         std::to_string(h.key_size) + " dwords: not an RSA-2048 v0.0 header"};
  if (uint64_t{h.size} * 4 != acm.size())
    return {TxtError::acm_malformed, "ACM header: size " + std::to_string(uint64_t{h.size} * 4) +
                                         " bytes but TXT.SINIT.SIZE/ECX gave " + std::to_string(acm.size())};
  at::AcmInfoTable info;
  std::memcpy(&info, acm.data() + at::kAcmUserAreaOffset, sizeof info);
  if (std::memcmp(info.uuid, at::kAcmInfoTableUuid, 16) != 0 || info.chipset_acm_type != at::kAcmTypeSinit)
    return {TxtError::acm_malformed, "ACM information table: missing or not a SINIT module"};
  uint8_t key_hash[32];
  SHA256(acm.data() + offsetof(at::AcmHeader, rsa_pub_key), 256 + 4, key_hash);
  if (std::memcmp(key_hash, f.acm_key_hash.data(), 32) != 0)
    return {TxtError::acm_signature, "ACM signing key is not the chipset's (its hash differs from TXT.PUBLIC.KEY)"};
  if (check_sig && !acm_signature_valid(acm))
    return {TxtError::acm_signature, "ACM signature does not verify (RSA-2048 PKCS#1 v1.5, SHA-256)"};
  if (h.chipset_id != f.device_id)
    return {TxtError::acm_wrong_chipset, "ACM is for chipset " + hex(h.chipset_id) + ", this one is " + hex(f.device_id)};
  if (h.txt_svn < f.sinit_svn_floor)
    return {TxtError::acm_revoked, "ACM TXT SVN " + std::to_string(h.txt_svn) + " is below the chipset's floor " +
                                       std::to_string(f.sinit_svn_floor) + " (revoked)"};
  return {TxtError::none, ""};
}

}  // namespace

GetsecResult getsec_capabilities(TxtMachine& m) {
  GetsecResult r;
  if (auto f = getsec_common(m)) {
    r.fault = f;
    return r;
  }
  // SDM vol. 2D GETSEC[CAPABILITIES]: EBX = 0 selects the index; bit 0 chipset present, then leaves.
  if (m.cpu.rbx != 0) {
    r.eax = 0;  // no other capability index is defined
  } else {
    r.eax = m.chipset_present ? at::getsec_caps::kChipsetPresent : 0;
    r.eax |= at::getsec_caps::kSenter | at::getsec_caps::kSexit | at::getsec_caps::kParameters |
             at::getsec_caps::kWakeup;
  }
  m.cpu.rax = r.eax;
  return r;
}

SenterResult getsec_senter(TxtMachine& m) {
  SenterResult r;
  auto fault = [&](CpuFault f) {
    r.fault = f;
    return r;
  };
  if (auto f = getsec_common(m)) return fault(*f);
  // SDM vol. 2D GETSEC[SENTER], protected-mode exceptions.
  if (!(m.cpu.cr0 & kCr0Pe) || (m.cpu.rflags & kRflagsVm)) return fault(gp("SENTER outside protected mode"));
  if (m.cpu.cpl != 0) return fault(gp("CPL " + std::to_string(m.cpu.cpl) + " != 0"));
  if (!(m.cpu.cr0 & (1u << 5))) return fault(gp("CR0.NE = 0"));
  if (m.cpu.cr0 & (1u << 30)) return fault(gp("CR0.CD = 1"));
  if (!m.cpu.bsp) return fault(gp("SENTER on a processor that is not the ILP (IA32_APIC_BASE.BSP = 0)"));
  if (!m.chipset_present) return fault(gp("no TXT-capable chipset"));
  if (m.chipset.senter_done()) return fault(gp("TXT.STS.SENTER.DONE: a measured environment is already running"));
  if (m.cpu.rdx != 0) return fault(gp("EDX = " + hex(m.cpu.rdx) + ": SENTER function control must be 0"));
  uint64_t base = m.cpu.rbx & 0xFFFFFFFF, size = m.cpu.rcx & 0xFFFFFFFF;
  // EBX 4 KiB aligned, ECX a multiple of 64 and within the AC RAM (SDM: #GP otherwise).
  if ((base & 0xFFF) || (size & 63) || size == 0 || size > TxtChipset::kAcRamSize)
    return fault(gp("SINIT at " + hex(base) + ", " + std::to_string(size) + " bytes: not 4 KiB aligned, not a multiple of 64 or larger than AC RAM"));
  if (!m.mem.contains(base, size)) return fault(gp("SINIT at " + hex(base) + " is outside RAM"));

  // The processor rendezvous with the RLPs happens here; their state is SINIT's to judge (sinit.cpp).
  // AC RAM load, then authentication; a module that fails is never measured nor run: TXT shutdown.
  r.acm = m.mem.read(base, size);
  m.chipset.ac_ram() = r.acm;
  auto [err, why] = authenticate(r.acm, m.chipset.fuses(), !m.test_only_off.acm_signature);
  if (err != TxtError::none) {
    m.chipset.shutdown(err);
    r.error = err;
    r.message = std::string("SENTER refused the SINIT module (") + at::txt_error_name(err) + "): " + why;
    return r;
  }
  // HASH_START/DATA/END at locality 4 over the whole module: PCR17-22 reset, PCR17 = H(0 || H(ACM)).
  m.tpm.drtm_hash(r.acm.data(), r.acm.size());
  // Entering SINIT: interrupts, NMI, SMI, INIT held (SDM: "SENTER ... masks ... events").
  m.cpu.init_held = m.cpu.nmi_held = m.cpu.smi_held = true;
  m.cpu.rflags &= ~kRflagsIf;
  run_sinit(m, r);
  return r;
}

}  // namespace redoubt::sim
