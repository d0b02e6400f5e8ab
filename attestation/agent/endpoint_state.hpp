// Everything an endpoint does on its own TPM, shared by `redoubt quote` and
// `redoubt endpoint`: the measured launch (tools/launch_job) on the TPM it then
// quotes from, the EK certificate, and evidence for a nonce. One TPM per
// process (libtpms), so one EndpointState per process; methods are serialised
// by the caller.
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "attestation/agent/tpm_identity.hpp"
#include "attestation/common/evidence.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::attest {

struct EndpointQuote {
  TpmQuote quote;
  Evidence evidence;
};

// Writes quote.msg, quote.sig, quote.pcrs (tpm2-tools serialized), ak.pub.pem,
// ak.pub (TPM2B_PUBLIC), eventlog.bin and nonce.hex into `dir`.
void write_quote_files(const std::filesystem::path& dir, const Evidence& e, std::span<const uint8_t> nonce);

// Quote over the DRTM selection and package the evidence with `eventlog`.
EndpointQuote make_evidence(tpm::TpmDevice& tpm, TpmIdentity& id, std::span<const uint8_t> nonce, const Bytes& eventlog);

}  // namespace redoubt::attest
