// PCR values as tpm2-tools 5.4 writes them (`tpm2_quote -o FILE`, default
// `-F serialized`; read back by `tpm2_checkquote -f`): the C structs
// TPML_PCR_SELECTION, then a little-endian u32 count, then `count`
// TPML_DIGEST blocks (at most 8 digests each, in selection order). Struct
// layout is tss2_tpm2_types.h on x86-64 little-endian (132 + 4 + 532·n bytes).
#pragma once
#include <tss2/tss2_tpm2_types.h>

#include <map>
#include <span>
#include <vector>

#include "attestation/common/encoding.hpp"

namespace redoubt::attest {

struct QuotedPcrs {
  TPML_PCR_SELECTION selection{};
  std::vector<Bytes> values;  // one per selected PCR, bank by bank in selection order, PCR ascending

  // bank (TPM_ALG_ID) -> pcr -> value
  std::map<TPMI_ALG_HASH, std::map<uint32_t, Bytes>> by_bank() const;
  // H_alg(value_1 || ... || value_n): the pcrDigest a quote over `selection` carries (Part 3 §18.4).
  Bytes digest(TPMI_ALG_HASH alg) const;
};

// Selected PCR indices of one TPMS_PCR_SELECTION, ascending.
std::vector<uint32_t> selected_pcrs(const TPMS_PCR_SELECTION& s);
bool same_selection(const TPML_PCR_SELECTION& a, const TPML_PCR_SELECTION& b);
TPML_PCR_SELECTION make_selection(const std::vector<TPMI_ALG_HASH>& banks, const std::vector<uint32_t>& pcrs);
std::string selection_text(const TPML_PCR_SELECTION& s);  // "sha256:17,18,19,20+sha384:17,..."

Bytes write_pcr_file(const QuotedPcrs& q);
// Throws AttestError("malformed_pcrs") for wrong sizes, counts, digest sizes or banks.
QuotedPcrs read_pcr_file(std::span<const uint8_t> b);

}  // namespace redoubt::attest
