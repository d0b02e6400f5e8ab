// The TPM 2.0 commands the secure loader and hypervisor send, marshalled by hand
// (TPM 2.0 Library Part 3 command layouts) and their responses parsed with every
// length and response code checked: the TPM sits outside the SL's trust boundary
// for memory safety, so a short or malformed response is an error naming the
// cause, never an out-of-bounds read. Freestanding.
#pragma once
#include <cstddef>
#include <cstdint>

#include "platform/hal/digest.hpp"
#include "platform/hal/status.hpp"

namespace redoubt::x86::tpm2 {

// "TPM_RC_LOCALITY" etc. for the codes the SL can meet; "TPM_RC_?" otherwise.
const char* rc_name(uint32_t rc);
// True for the codes that mean "this NV index is not defined / never written".
bool rc_is_nv_absent(uint32_t rc);

// Each build_* writes one command frame into buf and returns its length (0 if cap is too small).
// TPM2_GetCapability(TPM_CAP_PCRS, 0, 1), Part 3 §30.2.
size_t build_get_capability_pcrs(uint8_t* buf, size_t cap);
// TPM2_PCR_Extend(pcr) with a TPM_RS_PW session of empty auth, Part 3 §22.2.
size_t build_pcr_extend(uint8_t* buf, size_t cap, uint32_t pcr, const DigestList& digests);
// TPM2_PCR_Event(pcr, eventData) with TPM_RS_PW of empty auth, Part 3 §22.3: the TPM
// hashes eventData in every allocated bank and extends each. eventData <= 1024 bytes.
size_t build_pcr_event(uint8_t* buf, size_t cap, uint32_t pcr, const uint8_t* data, size_t n);
// TPM2_NV_ReadPublic(index), Part 3 §31.6.
size_t build_nv_read_public(uint8_t* buf, size_t cap, uint32_t nv_index);
// TPM2_NV_Read(authHandle = index, index, size, offset) with TPM_RS_PW of empty auth, Part 3 §31.13.
size_t build_nv_read(uint8_t* buf, size_t cap, uint32_t nv_index, uint16_t size, uint16_t offset);

// Response header check (Part 1 §18.4): length >= 10, the size field equals the
// bytes received, and the response code. `rc` receives the code (0 on success);
// a non-zero code is Err::tpm naming `what` and the code.
Status check_response(const uint8_t* r, size_t n, const char* what, uint8_t locality, uint32_t& rc);

// Parsers of successful responses (they call check_response first).
Status parse_get_capability_pcrs(const uint8_t* r, size_t n, BankList& out);
Status parse_pcr_extend(const uint8_t* r, size_t n, uint32_t pcr, uint8_t locality);
// Success and TPM_ST_SESSIONS only (the returned digests are not needed).
Status parse_pcr_event(const uint8_t* r, size_t n, uint8_t locality);
// TPMS_NV_PUBLIC fields the counter read needs.
struct NvPublic {
  uint32_t index = 0;
  uint16_t name_alg = 0;
  uint32_t attributes = 0;
  uint16_t data_size = 0;
};
Status parse_nv_read_public(const uint8_t* r, size_t n, uint32_t nv_index, uint8_t locality, NvPublic& out);
// An 8-byte big-endian counter value (TPM_NT_COUNTER, Part 2 §13.4).
Status parse_nv_read_counter(const uint8_t* r, size_t n, uint32_t nv_index, uint8_t locality, uint64_t& value);

// TPMA_NV bits, Part 2 §13.4 Table 233.
inline constexpr uint32_t kNvTypeShift = 4;  // TPM_NT in bits 7:4
inline constexpr uint32_t kNvTypeMask = 0xFu << kNvTypeShift;
inline constexpr uint32_t kNtCounter = 0x1;
inline constexpr uint32_t kNvWritten = 1u << 29;

}  // namespace redoubt::x86::tpm2
