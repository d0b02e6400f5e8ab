#include "attestation/tpm/pcr_file.hpp"

#include <openssl/evp.h>

#include <cstring>
#include <memory>

#include "attestation/common/attest_error.hpp"
#include "attestation/tpm/tpm_public.hpp"

namespace redoubt::attest {
namespace {
static_assert(sizeof(TPML_PCR_SELECTION) == 132 && sizeof(TPML_DIGEST) == 532, "tpm2-tools serialized layout (x86-64)");
constexpr size_t kMaxDigestBlocks = 32;  // tpm2_pcrs.pcr_values[TPM2_MAX_PCRS]

[[noreturn]] void bad(const std::string& why) { throw AttestError("malformed_pcrs", "pcr file: " + why); }
}  // namespace

std::vector<uint32_t> selected_pcrs(const TPMS_PCR_SELECTION& s) {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < s.sizeofSelect * 8u && i < TPM2_PCR_SELECT_MAX * 8u; ++i)
    if (s.pcrSelect[i / 8] & (1u << (i % 8))) out.push_back(i);
  return out;
}

bool same_selection(const TPML_PCR_SELECTION& a, const TPML_PCR_SELECTION& b) {
  if (a.count != b.count) return false;
  for (uint32_t i = 0; i < a.count; ++i)
    if (a.pcrSelections[i].hash != b.pcrSelections[i].hash || selected_pcrs(a.pcrSelections[i]) != selected_pcrs(b.pcrSelections[i]))
      return false;
  return true;
}

TPML_PCR_SELECTION make_selection(const std::vector<TPMI_ALG_HASH>& banks, const std::vector<uint32_t>& pcrs) {
  TPML_PCR_SELECTION s{};
  for (TPMI_ALG_HASH b : banks) {
    TPMS_PCR_SELECTION& x = s.pcrSelections[s.count++];
    x.hash = b;
    x.sizeofSelect = 3;
    for (uint32_t p : pcrs) x.pcrSelect[p / 8] |= static_cast<uint8_t>(1u << (p % 8));
  }
  return s;
}

std::string selection_text(const TPML_PCR_SELECTION& s) {
  std::string out;
  for (uint32_t i = 0; i < s.count && i < TPM2_NUM_PCR_BANKS; ++i) {
    if (i) out += "+";
    out += tpm_hash_text(s.pcrSelections[i].hash);
    out += ":";
    bool first = true;
    for (uint32_t p : selected_pcrs(s.pcrSelections[i])) {
      out += (first ? "" : ",") + std::to_string(p);
      first = false;
    }
  }
  return out;
}

std::map<TPMI_ALG_HASH, std::map<uint32_t, Bytes>> QuotedPcrs::by_bank() const {
  std::map<TPMI_ALG_HASH, std::map<uint32_t, Bytes>> out;
  size_t k = 0;
  for (uint32_t i = 0; i < selection.count; ++i)
    for (uint32_t p : selected_pcrs(selection.pcrSelections[i]))
      if (k < values.size()) out[selection.pcrSelections[i].hash][p] = values[k++];
  return out;
}

Bytes QuotedPcrs::digest(TPMI_ALG_HASH alg) const {
  Bytes all;
  for (const Bytes& v : values) all.insert(all.end(), v.begin(), v.end());
  return tpm_hash(alg, all);
}

Bytes write_pcr_file(const QuotedPcrs& q) {
  std::vector<TPML_DIGEST> blocks;
  for (const Bytes& v : q.values) {
    if (blocks.empty() || blocks.back().count == 8) blocks.push_back(TPML_DIGEST{});
    TPML_DIGEST& d = blocks.back();
    if (v.size() > sizeof d.digests[0].buffer) bad("a PCR value is larger than any digest");
    d.digests[d.count].size = static_cast<uint16_t>(v.size());
    std::memcpy(d.digests[d.count].buffer, v.data(), v.size());
    ++d.count;
  }
  Bytes out(sizeof(TPML_PCR_SELECTION) + 4 + blocks.size() * sizeof(TPML_DIGEST));
  std::memcpy(out.data(), &q.selection, sizeof(TPML_PCR_SELECTION));
  const uint32_t n = static_cast<uint32_t>(blocks.size());
  std::memcpy(out.data() + sizeof(TPML_PCR_SELECTION), &n, 4);
  if (!blocks.empty())
    std::memcpy(out.data() + sizeof(TPML_PCR_SELECTION) + 4, blocks.data(), blocks.size() * sizeof(TPML_DIGEST));
  return out;
}

QuotedPcrs read_pcr_file(std::span<const uint8_t> b) {
  QuotedPcrs q;
  if (b.size() < sizeof(TPML_PCR_SELECTION) + 4)
    bad(std::to_string(b.size()) + " bytes, shorter than a selection and a count (136)");
  std::memcpy(&q.selection, b.data(), sizeof(TPML_PCR_SELECTION));
  if (q.selection.count == 0 || q.selection.count > TPM2_NUM_PCR_BANKS)
    bad("selection count " + std::to_string(q.selection.count) + " (expected 1.." + std::to_string(TPM2_NUM_PCR_BANKS) + ")");
  size_t expected_values = 0;
  for (uint32_t i = 0; i < q.selection.count; ++i) {
    const TPMS_PCR_SELECTION& s = q.selection.pcrSelections[i];
    if (tpm_hash_size(s.hash) == 0) bad("selection " + std::to_string(i) + " names an unknown bank");
    if (s.sizeofSelect > TPM2_PCR_SELECT_MAX) bad("sizeofSelect " + std::to_string(s.sizeofSelect) + " > 4");
    for (uint32_t j = 0; j < i; ++j)
      if (q.selection.pcrSelections[j].hash == s.hash) bad(std::string("bank ") + tpm_hash_text(s.hash) + " selected twice");
    expected_values += selected_pcrs(s).size();
  }
  uint32_t n = 0;
  std::memcpy(&n, b.data() + sizeof(TPML_PCR_SELECTION), 4);
  if (n > kMaxDigestBlocks) bad("digest block count " + std::to_string(n) + " > 32");
  if (b.size() != sizeof(TPML_PCR_SELECTION) + 4 + size_t{n} * sizeof(TPML_DIGEST))
    bad(std::to_string(b.size()) + " bytes, expected " + std::to_string(sizeof(TPML_PCR_SELECTION) + 4 + size_t{n} * sizeof(TPML_DIGEST)) +
        " for " + std::to_string(n) + " digest blocks");
  std::vector<size_t> sizes;  // expected digest size per value, in order
  for (uint32_t i = 0; i < q.selection.count; ++i)
    for (size_t k = 0; k < selected_pcrs(q.selection.pcrSelections[i]).size(); ++k)
      sizes.push_back(tpm_hash_size(q.selection.pcrSelections[i].hash));
  for (uint32_t blk = 0; blk < n; ++blk) {
    TPML_DIGEST d;
    std::memcpy(&d, b.data() + sizeof(TPML_PCR_SELECTION) + 4 + blk * sizeof(TPML_DIGEST), sizeof d);
    if (d.count > 8) bad("digest block " + std::to_string(blk) + " claims " + std::to_string(d.count) + " digests (max 8)");
    for (uint32_t k = 0; k < d.count; ++k) {
      const size_t idx = q.values.size();
      if (idx >= sizes.size()) bad("more PCR values than selected PCRs (" + std::to_string(sizes.size()) + ")");
      if (d.digests[k].size != sizes[idx])
        bad("value " + std::to_string(idx) + " is " + std::to_string(d.digests[k].size) + " bytes, expected " + std::to_string(sizes[idx]));
      q.values.emplace_back(d.digests[k].buffer, d.digests[k].buffer + d.digests[k].size);
    }
  }
  if (q.values.size() != expected_values)
    bad(std::to_string(q.values.size()) + " PCR values for " + std::to_string(expected_values) + " selected PCRs");
  return q;
}

}  // namespace redoubt::attest
