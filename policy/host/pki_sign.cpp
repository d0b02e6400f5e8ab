#include "policy/host/pki_sign.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>

#include "policy/fs/guest_manifest.hpp"
#include "policy/host/cbor_write.hpp"
#include "policy/host/cose_sign.hpp"
#include "policy/host/host_io.hpp"

namespace redoubt::policy {
namespace {

Bytes digest_of(HashAlg alg, std::span<const uint8_t> d) {
  const EVP_MD* md = alg == HashAlg::sha384 ? EVP_sha384() : EVP_sha256();
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned len = 0;
  EVP_Digest(d.data(), d.size(), out.data(), &len, md, nullptr);
  out.resize(len);
  return out;
}

Bytes key_spki_sha256(const EvpKey& key) {
  unsigned char* p = nullptr;
  int n = i2d_PUBKEY(key.get(), &p);
  if (n <= 0) throw PkiError("pki: cannot encode the public key: " + openssl_error());
  Bytes d = sha256({p, static_cast<size_t>(n)});
  OPENSSL_free(p);
  return d;
}

}  // namespace

Bytes build_guest_manifest_payload(std::span<const uint8_t> kernel, const Bytes* initrd, const GuestManifestInput& in) {
  if (in.name.empty() || in.name.size() > 63) throw PkiError("guest-manifest: name must be 1..63 bytes");
  if (in.version.size() > 31) throw PkiError("guest-manifest: version is longer than 31 bytes");
  if (in.cmdline.size() > kMaxCmdline) throw PkiError("guest-manifest: cmdline is longer than 1023 bytes");
  if ((in.name + in.version + in.cmdline).find('\0') != std::string::npos) throw PkiError("guest-manifest: strings must not contain NUL");
  if (in.memory_mib == 0 || in.memory_mib > kMaxGuestMemoryMib) throw PkiError("guest-manifest: memory must be 1..1048576 MiB");
  if (in.digest_alg != HashAlg::sha256 && in.digest_alg != HashAlg::sha384) throw PkiError("guest-manifest: digest must be sha256 or sha384");
  CborWriter w;
  w.map(initrd ? 11 : 9);
  w.uint(1).text(kGuestManifestType);
  w.uint(2).text(in.name);
  w.uint(3).text(in.version);
  w.uint(4).uint(in.svn);
  w.uint(5).uint(static_cast<uint16_t>(in.digest_alg));
  w.uint(6).bytes(digest_of(in.digest_alg, kernel));
  w.uint(7).uint(kernel.size());
  if (initrd) {
    w.uint(8).bytes(digest_of(in.digest_alg, *initrd));
    w.uint(9).uint(initrd->size());
  }
  w.uint(10).text(in.cmdline);
  w.uint(11).uint(in.memory_mib);
  return w.take();
}

Bytes sign_cose_x5chain(std::span<const uint8_t> payload, const EvpKey& key, const std::vector<Bytes>& chain, bool allow_mismatch,
                        const Bytes* kid_override) {
  if (chain.empty()) throw PkiError("guest-manifest: the certificate chain is empty");
  X509Ptr leaf = cert_from_der(chain.front());
  if (!allow_mismatch && EVP_PKEY_eq(X509_get0_pubkey(leaf.get()), key.get()) != 1)
    throw PkiError("guest-manifest: the signing key does not match the leaf certificate");
  const bool rsa = EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA;
  CoseAlg alg = CoseAlg::rs256;
  size_t coord = 0;
  if (!rsa) {
    const PublicKey pk = cose_public_key(key);
    alg = pk.alg;
    coord = alg == CoseAlg::es384 ? 48 : 32;
  }
  const Bytes kid = kid_override ? *kid_override : key_spki_sha256(key);
  CborWriter prot;
  prot.map(2).uint(1).integer(static_cast<int64_t>(alg)).uint(4).bytes(kid);
  CborWriter tbs;
  tbs.array(4).text("Signature1").bytes(prot.data()).bytes({}).bytes(payload);

  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = alg == CoseAlg::es384 ? EVP_sha384() : EVP_sha256();
  size_t sig_len = 0;
  if (EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key.get()) != 1 ||
      (rsa && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len, tbs.data().data(), tbs.data().size()) != 1)
    throw PkiError("guest-manifest: cannot sign: " + openssl_error());
  Bytes sig(sig_len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &sig_len, tbs.data().data(), tbs.data().size()) != 1)
    throw PkiError("guest-manifest: signing failed: " + openssl_error());
  sig.resize(sig_len);
  if (!rsa) {  // DER ECDSA-Sig-Value -> raw r||s (RFC 9053 §2.1)
    const unsigned char* p = sig.data();
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())), ECDSA_SIG_free);
    if (!es) throw PkiError("guest-manifest: bad DER signature");
    Bytes raw(2 * coord);
    BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), raw.data(), static_cast<int>(coord));
    BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), raw.data() + coord, static_cast<int>(coord));
    sig = raw;
  }
  CborWriter out;
  out.tag(18).array(4).bytes(prot.data());
  out.map(1).uint(33);  // RFC 9360: x5chain, a bstr for one certificate, else an array
  if (chain.size() == 1) {
    out.bytes(chain[0]);
  } else {
    out.array(chain.size());
    for (const auto& c : chain) out.bytes(c);
  }
  out.bytes(payload).bytes(sig);
  return out.take();
}

Bytes sign_guest_manifest(std::span<const uint8_t> kernel, const Bytes* initrd, const GuestManifestInput& in, const EvpKey& key,
                          const std::vector<Bytes>& chain) {
  return sign_cose_x5chain(build_guest_manifest_payload(kernel, initrd, in), key, chain);
}

RevocationInput revoke_by_serial(const X509* issuer, std::span<const uint8_t> serial) {
  if (serial.empty() || serial.size() > 21) throw PkiError("pki: a serial number has 1..21 content octets");
  return RevocationInput{Revocation::by_serial, subject_name_sha256(issuer), Bytes(serial.begin(), serial.end())};
}

RevocationInput revoke_by_spki(const X509* cert) { return RevocationInput{Revocation::by_spki, spki_sha256(cert), {}}; }

Bytes build_launch_policy_payload(const LaunchPolicyInput& in) {
  if (in.anchors.empty() || in.anchors.size() > kMaxAnchors) throw PkiError("launch-policy: 1..8 trust anchors required");
  if (in.revocations.size() > kMaxRevocations) throw PkiError("launch-policy: more than 64 revocations");
  if (in.min_svn.size() > kMaxMinSvn) throw PkiError("launch-policy: more than 32 min-svn entries");
  if (in.cpuid.size() > kMaxCpuidMasks || in.io.size() > kMaxIoRanges) throw PkiError("launch-policy: too many cpuid masks or io ranges");
  if (in.name.size() > 63) throw PkiError("launch-policy: name is longer than 63 bytes");
  const bool opt[] = {!in.revocations.empty(), !in.min_svn.empty(), in.allow_unsigned, !in.cpuid.empty(), !in.io.empty()};
  size_t n = 6;
  for (bool b : opt) n += b;
  CborWriter w;
  w.map(n);
  w.uint(1).text(kLaunchPolicyType);
  w.uint(2).text(in.name);
  w.uint(3).uint(in.serial);
  w.uint(4).uint(in.time);
  w.uint(5).array(in.anchors.size());
  for (const auto& a : in.anchors) w.bytes(a);
  w.uint(6).map(5);
  w.uint(1).bytes(in.eku);
  w.uint(2).uint(in.max_intermediates);
  w.uint(3).uint(in.leaf_key_usage);
  w.uint(4).uint(in.ca_key_usage);
  w.uint(5).uint(in.min_rsa_bits);
  if (opt[0]) {
    w.uint(7).array(in.revocations.size());
    for (const auto& r : in.revocations) {
      if (r.kind == Revocation::by_serial) w.array(3).uint(1).bytes(r.digest).bytes(r.serial);
      else w.array(2).uint(2).bytes(r.digest);
    }
  }
  if (opt[1]) {
    w.uint(8).array(in.min_svn.size());
    for (const auto& [name, svn] : in.min_svn) w.array(2).text(name).uint(svn);
  }
  if (opt[2]) w.uint(9).uint(1);
  if (opt[3]) {
    w.uint(10).array(in.cpuid.size());
    for (const auto& c : in.cpuid) w.array(4).uint(c.leaf).uint(c.subleaf).uint(c.reg).uint(c.clear);
  }
  if (opt[4]) {
    w.uint(11).array(in.io.size());
    for (const auto& r : in.io) w.array(2).uint(r.first).uint(r.last);
  }
  Bytes payload = w.take();
  // Refuse to sign what the verifier would refuse.
  auto check = std::make_unique<LaunchPolicy>();  // ~9 KiB
  Refusal why;
  Status st = launch_policy_decode(payload, *check, why);
  if (!st) throw PkiError(std::string("launch-policy: the policy would be refused: ") + st.message());
  return payload;
}

Bytes sign_launch_policy(const LaunchPolicyInput& in, const EvpKey& owner) {
  return cose_sign1_sign(build_launch_policy_payload(in), owner);
}

}  // namespace redoubt::policy
