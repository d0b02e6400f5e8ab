// libFuzzer: the enrolment request bodies of the verifier service
// (attestation/service/verifier_service, docs/api.md): POST /v1/endpoints (byte 0
// bit 0 clear) and POST /v1/endpoints/{id}/activate (set; id = the byte-1-selected
// one of a pending endpoint and two others), on a real SQLite store (in memory) and
// the fuzz manufacturer CA (fuzz_state.hpp; seeds carry EK certificates it issued).
// The contract is the HTTP layer's (http_api.cpp): a result, AttestError (4xx) or a
// nlohmann::json exception (400); any other exception would be a 500 and is a bug,
// as is a crash or a sanitizer report. An enrolment that succeeds must be pending
// with a credential challenge.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "attestation/common/attest_error.hpp"
#include "attestation/common/evidence.hpp"
#include "attestation/service/verifier_service.hpp"
#include "tests/fuzz/fuzz_state.hpp"

using namespace redoubt;
using namespace redoubt::attest;
using nlohmann::json;

namespace {

std::unique_ptr<VerifierService> make_service() {
  VerifierConfig cfg;
  cfg.db_path = ":memory:";
  cfg.manufacturers.add_ca_pem(fuzz_state::slurp(fuzz_state::ca().cert_pem));
  cfg.signing_key = policy::generate_key("P-256");
  cfg.challenge_ttl_s = 10 * 365 * 24 * 3600;  // the pending challenge outlives any campaign
  auto s = std::make_unique<VerifierService>(std::move(cfg));
  // One endpoint with a pending challenge, for the activate bodies.
  policy::EvpKey ek_key = policy::generate_key("P-256"), ak_key = policy::generate_key("P-256");
  const TPM2B_PUBLIC ek = fuzz_state::with_point(ek_template_ecc_p256(), ek_key);
  const TPM2B_PUBLIC ak = fuzz_state::with_point(ak_template_ecc_p256(), ak_key);
  const Bytes cert = issue_ek_certificate(fuzz_state::ca(), ek.publicArea, "fuzz-pending");
  s->enrol({{"id", "fuzz-pending"}, {"ek_certificate", to_base64(cert)}, {"ek_public", to_base64(marshal_public(ek))},
            {"ak_public", to_base64(marshal_public(ak))}});
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  static std::unique_ptr<VerifierService> svc;
  static size_t runs = 0;
  if (!svc || ++runs % 100000 == 0) svc = make_service();  // bounds the store's growth over a long campaign
  static const char* const kIds[] = {"fuzz-pending", "nobody", "fuzz-enrolled"};
  const std::string body(reinterpret_cast<const char*>(data + 2), size - 2);
  try {
    const json j = parse_json_body(body);
    if (data[0] & 1) {
      (void)svc->activate(kIds[data[1] % 3], j).dump();
    } else {
      const json out = svc->enrol(j);
      if (out.at("state") != "pending" || out.at("credential_blob").get<std::string>().empty() ||
          out.at("encrypted_secret").get<std::string>().empty())
        std::abort();
      (void)out.dump();
    }
  } catch (const AttestError&) {
  } catch (const json::exception&) {
  }
  return 0;
}
