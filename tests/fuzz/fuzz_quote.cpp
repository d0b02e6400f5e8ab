// libFuzzer: the verifier's parsers for what an endpoint sends (attestation/):
// TPMS_ATTEST and TPMT_SIGNATURE (tss2-mu), TPM2B_PUBLIC (+ name, OpenSSL key),
// the tpm2-tools serialized PCR file and the evidence JSON. The first byte picks
// the parser (seeds: fuzz_quote_seeds). Malformed input must end in
// AttestError; anything else (a crash, a sanitizer report, another exception
// type) is a bug. A successful parse must survive a marshal/parse round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "attestation/common/attest_error.hpp"
#include "attestation/common/evidence.hpp"
#include "attestation/tpm/pcr_file.hpp"
#include "attestation/tpm/quote_parse.hpp"
#include "attestation/tpm/tpm_public.hpp"

using namespace redoubt::attest;

namespace {

void check(bool ok) {
  if (!ok) std::abort();  // a round trip that changes the bytes: a parser/marshaller disagreement
}

void one(uint8_t which, std::span<const uint8_t> in) {
  switch (which % 5) {
    case 0: {
      TPMS_ATTEST a = parse_attest(in);
      check(marshal_attest(a) == Bytes(in.begin(), in.end()));
      break;
    }
    case 1: {
      TPMT_SIGNATURE s = parse_signature(in);
      check(marshal_signature(s) == Bytes(in.begin(), in.end()));
      break;
    }
    case 2: {
      TPM2B_PUBLIC p = unmarshal_public(in, "AK public");
      check(marshal_public(p) == Bytes(in.begin(), in.end()));
      (void)tpm_object_name(p.publicArea);
      (void)tpm_primary_qualified_name(TPM2_RH_ENDORSEMENT, p.publicArea);
      (void)public_key_pem(public_to_evp(p.publicArea));
      break;
    }
    case 3: {
      QuotedPcrs q = read_pcr_file(in);
      (void)q.by_bank();
      (void)q.digest(TPM2_ALG_SHA256);
      (void)selection_text(q.selection);
      QuotedPcrs again = read_pcr_file(write_pcr_file(q));
      check(again.values == q.values && same_selection(again.selection, q.selection));
      break;
    }
    case 4: {
      const nlohmann::json j = parse_json_body(std::string(in.begin(), in.end()));
      Evidence e = evidence_from_json(j.is_object() && j.contains("evidence") ? j["evidence"] : j);
      Evidence back = evidence_from_json(evidence_to_json(e));
      check(back.quote == e.quote && back.signature == e.signature && back.pcrs == e.pcrs && back.eventlog == e.eventlog &&
            back.ak_public == e.ak_public);
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  try {
    one(data[0], {data + 1, size - 1});
  } catch (const AttestError&) {
  } catch (const nlohmann::json::exception&) {  // a JSON value of the wrong type: the HTTP layer maps it to 400
  }
  return 0;
}
