// Seeds for fuzz_quote: fuzz_quote_seeds OUTDIR writes OUTDIR/quote/ with a
// well-formed instance of each input (first byte = fuzz_quote's selector):
// a TPMS_ATTEST quote, an ECDSA TPMT_SIGNATURE, the AK and EK TPM2B_PUBLIC,
// a sha256+sha384 PCR file and an evidence JSON made of them.
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "attestation/common/evidence.hpp"
#include "attestation/tpm/pcr_file.hpp"
#include "attestation/tpm/quote_parse.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "policy/host/keys.hpp"

using namespace redoubt;
using namespace redoubt::attest;
namespace fs = std::filesystem;

static void put(const fs::path& dir, const std::string& name, uint8_t selector, const Bytes& b) {
  fs::create_directories(dir);
  Bytes out{selector};
  out.insert(out.end(), b.begin(), b.end());
  std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_quote_seeds OUTDIR\n";
    return 2;
  }
  const fs::path out = fs::path(argv[1]) / "quote";
  // The AK: the real template with a real P-256 point.
  policy::EvpKey key = policy::generate_key("P-256");
  TPM2B_PUBLIC ak = ak_template_ecc_p256();
  BIGNUM *x = nullptr, *y = nullptr;
  EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x);
  EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y);
  ak.publicArea.unique.ecc.x.size = ak.publicArea.unique.ecc.y.size = 32;
  BN_bn2binpad(x, ak.publicArea.unique.ecc.x.buffer, 32);
  BN_bn2binpad(y, ak.publicArea.unique.ecc.y.buffer, 32);
  BN_free(x);
  BN_free(y);

  QuotedPcrs pcrs;
  pcrs.selection = make_selection({TPM2_ALG_SHA256, TPM2_ALG_SHA384}, {17, 18, 19, 20});
  for (int i = 0; i < 4; ++i) pcrs.values.push_back(Bytes(32, static_cast<uint8_t>(0x11 * (i + 1))));
  for (int i = 0; i < 4; ++i) pcrs.values.push_back(Bytes(48, static_cast<uint8_t>(0x22 * (i + 1))));

  TPMS_ATTEST a{};
  a.magic = TPM2_GENERATED_VALUE;
  a.type = TPM2_ST_ATTEST_QUOTE;
  const Bytes qn = tpm_primary_qualified_name(TPM2_RH_ENDORSEMENT, ak.publicArea);
  a.qualifiedSigner.size = static_cast<uint16_t>(qn.size());
  std::memcpy(a.qualifiedSigner.name, qn.data(), qn.size());
  a.extraData.size = 32;
  std::memset(a.extraData.buffer, 0xc0, 32);
  a.clockInfo = {123456, 3, 1, 1};
  a.firmwareVersion = 0x2019102300000000ull;
  a.attested.quote.pcrSelect = pcrs.selection;
  const Bytes pd = pcrs.digest(TPM2_ALG_SHA256);
  a.attested.quote.pcrDigest.size = static_cast<uint16_t>(pd.size());
  std::memcpy(a.attested.quote.pcrDigest.buffer, pd.data(), pd.size());

  TPMT_SIGNATURE s{};
  s.sigAlg = TPM2_ALG_ECDSA;
  s.signature.ecdsa.hash = TPM2_ALG_SHA256;
  s.signature.ecdsa.signatureR.size = s.signature.ecdsa.signatureS.size = 32;
  std::memset(s.signature.ecdsa.signatureR.buffer, 0x5a, 32);
  std::memset(s.signature.ecdsa.signatureS.buffer, 0xa5, 32);
  TPMT_SIGNATURE rsa{};
  rsa.sigAlg = TPM2_ALG_RSASSA;
  rsa.signature.rsassa.hash = TPM2_ALG_SHA256;
  rsa.signature.rsassa.sig.size = 256;

  Evidence e{marshal_attest(a), marshal_signature(s), write_pcr_file(pcrs), Bytes{0, 1, 2, 3}, marshal_public(ak)};
  put(out, "attest", 0, e.quote);
  put(out, "sig-ecdsa", 1, e.signature);
  put(out, "sig-rsassa", 1, marshal_signature(rsa));
  put(out, "ak-public", 2, e.ak_public);
  put(out, "ek-public", 2, marshal_public(ek_template_ecc_p256()));
  put(out, "pcrs", 3, e.pcrs);
  const std::string ev = evidence_to_json(e).dump();
  put(out, "evidence", 4, Bytes(ev.begin(), ev.end()));
  const std::string verify = nlohmann::json{{"evidence", evidence_to_json(e)}, {"nonce", std::string(64, 'c')}}.dump();
  put(out, "verify", 4, Bytes(verify.begin(), verify.end()));
  std::cout << "seeds in " << out.string() << "\n";
  return 0;
}
