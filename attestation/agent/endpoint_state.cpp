#include "attestation/agent/endpoint_state.hpp"


#include "attestation/common/attest_error.hpp"
#include "attestation/tpm/tpm_public.hpp"
#include "policy/host/safe_file.hpp"

namespace redoubt::attest {
namespace fs = std::filesystem;
namespace {
// Atomic and checked (policy/host/safe_file.hpp): a full disk is an error, never a 0-byte file.
void put(const fs::path& p, std::span<const uint8_t> b) {
  policy::FileError e;
  if (!policy::write_file_atomic(p.string(), b, 0644, e)) throw AttestError("io", e.what, 500);
}
}  // namespace

void write_quote_files(const fs::path& dir, const Evidence& e, std::span<const uint8_t> nonce) {
  fs::create_directories(dir);
  put(dir / "quote.msg", e.quote);
  put(dir / "quote.sig", e.signature);
  put(dir / "quote.pcrs", e.pcrs);
  put(dir / "eventlog.bin", e.eventlog);
  put(dir / "ak.pub", e.ak_public);
  const std::string pem = public_key_pem(public_to_evp(unmarshal_public(e.ak_public).publicArea));
  put(dir / "ak.pub.pem", to_bytes(pem));
  put(dir / "nonce.hex", to_bytes(to_hex(nonce) + "\n"));
}

EndpointQuote make_evidence(tpm::TpmDevice& tpm, TpmIdentity& id, std::span<const uint8_t> nonce, const Bytes& eventlog) {
  tpm.set_locality(0);
  EndpointQuote q;
  q.quote = id.quote(nonce, drtm_quote_selection(tpm));
  q.evidence.quote = q.quote.message;
  q.evidence.signature = q.quote.signature;
  q.evidence.pcrs = write_pcr_file(q.quote.pcrs);
  q.evidence.eventlog = eventlog;
  q.evidence.ak_public = marshal_public(id.ak_public());
  return q;
}

}  // namespace redoubt::attest
