#include "platform/x86/drivers/tis_tpm.hpp"

#include "platform/x86/drivers/tpm2_commands.hpp"

namespace redoubt::x86 {

Status TisTpm::run(uint8_t locality, size_t cmd_len) {
  if (cmd_len == 0) return Status::fail(Err::internal, "TPM command does not fit its buffer");
  return tis_.transact(locality, cmd_, cmd_len, resp_, sizeof resp_, resp_len_);
}

Status TisTpm::active_banks(BankList& out) {
  REDOUBT_TRY(run(0, tpm2::build_get_capability_pcrs(cmd_, sizeof cmd_)));
  return tpm2::parse_get_capability_pcrs(resp_, resp_len_, out);
}

Status TisTpm::pcr_extend(uint8_t locality, uint32_t pcr, const DigestList& digests) {
  if (pcr >= arch::tpm2::kPcrCount) return Status::fail(Err::internal, "TPM2_PCR_Extend: no PCR %u", pcr);
  if (digests.count == 0 || digests.count > DigestList::kMax)
    return Status::fail(Err::internal, "TPM2_PCR_Extend(pcr %u): %u digests (1..%zu)", pcr, digests.count, DigestList::kMax);
  REDOUBT_TRY(run(locality, tpm2::build_pcr_extend(cmd_, sizeof cmd_, pcr, digests)));
  return tpm2::parse_pcr_extend(resp_, resp_len_, pcr, locality);
}

Status TisTpm::nv_read_counter(uint8_t locality, uint32_t nv_index, uint64_t& value) {
  if ((nv_index >> 24) != arch::tpm2::kHtNvIndex)
    return Status::fail(Err::internal, "NV 0x%08x is not an NV index handle", nv_index);
  REDOUBT_TRY(run(locality, tpm2::build_nv_read_public(cmd_, sizeof cmd_, nv_index)));
  tpm2::NvPublic pub;
  REDOUBT_TRY(tpm2::parse_nv_read_public(resp_, resp_len_, nv_index, locality, pub));
  if (((pub.attributes & tpm2::kNvTypeMask) >> tpm2::kNvTypeShift) != tpm2::kNtCounter)
    return Status::fail(Err::tpm, "NV 0x%08x is not a TPM_NT_COUNTER (attributes 0x%08x)", nv_index, pub.attributes);
  if (pub.data_size != 8)
    return Status::fail(Err::tpm, "NV 0x%08x holds %u bytes, a counter has 8", nv_index, unsigned(pub.data_size));
  if (!(pub.attributes & tpm2::kNvWritten))
    return Status::fail(Err::not_found, "anti-rollback counter NV 0x%08x was never incremented", nv_index);
  REDOUBT_TRY(run(locality, tpm2::build_nv_read(cmd_, sizeof cmd_, nv_index, 8, 0)));
  return tpm2::parse_nv_read_counter(resp_, resp_len_, nv_index, locality, value);
}

}  // namespace redoubt::x86
