#include "policy/fs/eventlog.hpp"

#include "platform/hal/format.hpp"
#include "policy/fs/hash.hpp"
#include "policy/fs/pcr_map.hpp"

namespace redoubt::policy {
namespace {

// TCG PFP 1.05 §10.4.5.1 Table 21: "Spec ID Event03" including its NUL.
constexpr uint8_t kSpecIdSignature[16] = {'S', 'p', 'e', 'c', ' ', 'I', 'D', ' ', 'E', 'v', 'e', 'n', 't', '0', '3', 0};

}  // namespace

Status EventLogWriter::put(const void* p, size_t n) {
  if (n > cap_ - len_) return Status::fail(Err::internal, "eventlog: buffer full: %zu bytes at offset %zu exceed capacity %zu", n, len_, cap_);
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) buf_[len_ + i] = b[i];
  len_ += n;
  return Status::ok();
}

// All integers in the log are little-endian (PFP §10.2 "all fields little endian").
Status EventLogWriter::put_u16(uint16_t v) {
  const uint8_t b[2] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)};
  return put(b, 2);
}

Status EventLogWriter::put_u32(uint32_t v) {
  const uint8_t b[4] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 24)};
  return put(b, 4);
}

Status EventLogWriter::write_header(const BankList& banks) {
  if (len_ != 0) return Status::fail(Err::internal, "eventlog: the Spec ID header must be the first record (log has %zu bytes)", len_);
  if (banks.count == 0 || banks.count > BankList::kMax)
    return Status::fail(Err::malformed, "eventlog: %u banks, expected 1..%zu", banks.count, BankList::kMax);
  for (uint32_t i = 0; i < banks.count; ++i) {
    if (digest_size(banks.alg[i]) == 0)
      return Status::fail(Err::unsupported, "eventlog: bank %u has unknown alg 0x%04x", i, static_cast<unsigned>(banks.alg[i]));
    for (uint32_t j = 0; j < i; ++j)
      if (banks.alg[j] == banks.alg[i]) return Status::fail(Err::malformed, "eventlog: bank %s listed twice", hash_alg_name(banks.alg[i]));
  }
  // TCG_EfiSpecIdEvent (PFP §10.4.5.1): 16 sig + 4 class + 4 version bytes +
  // 4 numberOfAlgorithms + 4 per algorithm + 1 vendorInfoSize.
  const uint32_t event_size = 16 + 4 + 4 + 4 + 4 * banks.count + 1;
  const size_t total = 32 + event_size;
  if (total > cap_) return Status::fail(Err::internal, "eventlog: buffer full: header of %zu bytes exceeds capacity %zu", total, cap_);
  // TCG_PCClientPCREvent (PFP §10.2.1), SHA-1 format: the header is never extended.
  REDOUBT_TRY(put_u32(0));            // pcrIndex
  REDOUBT_TRY(put_u32(kEvNoAction));  // eventType
  const uint8_t zero[20] = {};
  REDOUBT_TRY(put(zero, 20));         // digest
  REDOUBT_TRY(put_u32(event_size));
  REDOUBT_TRY(put(kSpecIdSignature, 16));
  REDOUBT_TRY(put_u32(0));  // platformClass: 0 = client (PFP §10.4.5.1)
  const uint8_t ver[4] = {0 /*minor*/, 2 /*major*/, 2 /*errata*/, 2 /*uintnSize: UINT64*/};
  REDOUBT_TRY(put(ver, 4));
  REDOUBT_TRY(put_u32(banks.count));
  for (uint32_t i = 0; i < banks.count; ++i) {
    REDOUBT_TRY(put_u16(static_cast<uint16_t>(banks.alg[i])));
    REDOUBT_TRY(put_u16(static_cast<uint16_t>(digest_size(banks.alg[i]))));
  }
  const uint8_t vendor_info_size = 0;
  REDOUBT_TRY(put(&vendor_info_size, 1));
  banks_ = banks;
  return Status::ok();
}

Status EventLogWriter::resume(size_t used, const BankList& banks) {
  if (used == 0 || used > cap_)
    return Status::fail(Err::malformed, "event log: cannot resume at %zu of %zu bytes", used, cap_);
  len_ = used;
  banks_ = banks;
  return Status::ok();
}

Status EventLogWriter::append(uint32_t pcr, uint32_t event_type, const DigestList& digests, std::span<const uint8_t> event_data) {
  if (banks_.count == 0) return Status::fail(Err::internal, "eventlog: append before write_header");
  // PFP §10.2.2: TPML_DIGEST_VALUES carries one digest per algorithm named in the header.
  if (digests.count != banks_.count)
    return Status::fail(Err::malformed, "eventlog: event has %u digests, the header names %u banks", digests.count, banks_.count);
  for (uint32_t i = 0; i < digests.count; ++i)
    if (digests.d[i].alg != banks_.alg[i])
      return Status::fail(Err::malformed, "eventlog: digest %u is %s, the header's bank %u is %s", i, hash_alg_name(digests.d[i].alg), i,
                          hash_alg_name(banks_.alg[i]));
  if (event_data.size() > 0xffffffffu) return Status::fail(Err::malformed, "eventlog: event data too large");
  size_t total = 4 + 4 + 4 + 4 + event_data.size();
  for (uint32_t i = 0; i < digests.count; ++i) total += 2 + digests.d[i].size();
  // Check the whole record first so a full buffer never leaves half a record.
  if (total > cap_ - len_)
    return Status::fail(Err::internal, "eventlog: buffer full: event of %zu bytes at offset %zu exceeds capacity %zu", total, len_, cap_);
  REDOUBT_TRY(put_u32(pcr));
  REDOUBT_TRY(put_u32(event_type));
  REDOUBT_TRY(put_u32(digests.count));
  for (uint32_t i = 0; i < digests.count; ++i) {
    REDOUBT_TRY(put_u16(static_cast<uint16_t>(digests.d[i].alg)));
    REDOUBT_TRY(put(digests.d[i].bytes, digests.d[i].size()));
  }
  REDOUBT_TRY(put_u32(static_cast<uint32_t>(event_data.size())));
  return put(event_data.data(), event_data.size());
}

Status append_skinit_slb_event(EventLogWriter& log, const BankList& banks, uint64_t slb_base, std::span<const uint8_t> slb) {
  char desc[64];
  const size_t n = format(desc, sizeof desc, "SKINIT SLB base=0x%llx length=0x%zx", (unsigned long long)slb_base, slb.size());
  return log.append(kPcrDrtmDetail, kEvSkinitSlb, hash_banks(banks, slb), std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(desc), n));
}

}  // namespace redoubt::policy
