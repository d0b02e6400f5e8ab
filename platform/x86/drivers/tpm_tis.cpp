#include "platform/x86/drivers/tpm_tis.hpp"

#include "arch/tpm/tis.hpp"
#include "arch/tpm/tpm2.hpp"

namespace redoubt::x86 {

namespace tis = arch::tis;
namespace access = arch::tis::access;
namespace sts_bits = arch::tis::sts;

namespace {
uint64_t reg(uint8_t l, uint32_t off) { return tis::kLocalityStride * l + off; }
}  // namespace

uint32_t TisDriver::sts(uint8_t l) {
  ++polls_;
  return mmio_.read32(reg(l, tis::kSts));
}

Status TisDriver::request_locality(uint8_t l) {
  // PTP §6 (locality usage): locality 4 is asserted only by the CPU during SKINIT/SENTER.
  if (l >= 4) return Status::fail(Err::unsupported, "TPM locality %u: software can request localities 0-3 only", unsigned(l));
  const uint8_t want = access::kTpmRegValidSts | access::kActiveLocality;
  uint8_t a = mmio_.read8(reg(l, tis::kAccess));
  if ((a & want) == want) return Status::ok();
  // Ask politely first; if a lower locality keeps the TPM past TIMEOUT_A (untrusted
  // software that never relinquishes), seize it: a higher locality may (PTP §6, TPM_ACCESS_x Seize).
  const uint8_t requests[] = {access::kRequestUse, access::kSeize};
  for (const uint8_t request : requests) {
    mmio_.write8(reg(l, tis::kAccess), request);
    for (uint64_t i = 0; i < bound(tis::kTimeoutAMs); ++i) {  // TIMEOUT_A (PTP §6, interface timeouts)
      ++polls_;
      a = mmio_.read8(reg(l, tis::kAccess));
      if ((a & want) == want) return Status::ok();
    }
  }
  mmio_.write8(reg(l, tis::kAccess), access::kActiveLocality);  // withdraw the pending request
  return Status::fail(Err::tpm, "TPM locality %u not granted within TIMEOUT_A, not even by Seize (TPM_ACCESS 0x%x)",
                      unsigned(l), unsigned(a));
}

Status TisDriver::relinquish_locality(uint8_t l) {
  if (l >= 4) return Status::fail(Err::unsupported, "TPM locality %u: software can use localities 0-3 only", unsigned(l));
  mmio_.write8(reg(l, tis::kAccess), access::kActiveLocality);  // write 1 to give it up (PTP §6, TPM_ACCESS_x)
  return Status::ok();
}

Status TisDriver::wait_sts(uint8_t l, uint32_t mask, uint32_t want, uint32_t timeout_ms, const char* what) {
  uint32_t s = 0;
  for (uint64_t i = 0; i < bound(timeout_ms); ++i) {
    s = sts(l);
    // All-ones: the locality is not active (or nothing answers the bus).
    if (s != 0xFFFFFFFFu && (s & mask) == want) return Status::ok();
  }
  return Status::fail(Err::tpm, "TPM locality %u: timed out waiting for %s (TPM_STS 0x%x)", unsigned(l), what, s);
}

Status TisDriver::wait_burst(uint8_t l, uint32_t& burst, const char* what) {
  uint32_t s = 0;
  for (uint64_t i = 0; i < bound(tis::kTimeoutDMs); ++i) {  // burstCount becomes non-zero within TIMEOUT_D
    s = sts(l);
    // stsValid qualifies Expect and dataAvail only (PTP TPM_STS), not burstCount: QEMU's
    // tpm-tis reports commandReady + burstCount with stsValid clear before the first FIFO write.
    if (s != 0xFFFFFFFFu && sts_bits::burst_count(s) != 0) {
      burst = sts_bits::burst_count(s);
      return Status::ok();
    }
  }
  return Status::fail(Err::tpm, "TPM locality %u: burstCount stayed 0 while %s (TPM_STS 0x%x)", unsigned(l), what, s);
}

Status TisDriver::send(uint8_t l, const uint8_t* cmd, size_t n) {
  // PTP §6 (command/response): write the command at most burstCount bytes at a time; Expect
  // must stay 1 until the last byte and drop to 0 with it.
  size_t sent = 0;
  while (sent < n) {
    uint32_t burst = 0;
    REDOUBT_TRY(wait_burst(l, burst, "sending a command"));
    for (uint32_t i = 0; i < burst && sent < n; ++i) mmio_.write8(reg(l, tis::kDataFifo), cmd[sent++]);
    REDOUBT_TRY(wait_sts(l, sts_bits::kStsValid, sts_bits::kStsValid, tis::kTimeoutCMs, "stsValid after a FIFO write"));
    const bool expect = sts(l) & sts_bits::kExpect;
    if (sent < n && !expect)
      return Status::fail(Err::tpm, "TPM stopped expecting command bytes after %zu of %zu", sent, n);
    if (sent == n && expect) return Status::fail(Err::tpm, "TPM still expects command bytes after all %zu were written", n);
  }
  return Status::ok();
}

Status TisDriver::receive(uint8_t l, uint8_t* resp, size_t cap, size_t& len) {
  // PTP §6 (command/response): read the 10-byte header first to learn the size, then the rest.
  size_t got = 0, want = arch::tpm2::kHeaderSize;
  if (cap < want) return Status::fail(Err::internal, "TPM response buffer of %zu bytes cannot hold a header", cap);
  while (got < want) {
    const uint32_t s = sts(l);
    if (s == 0xFFFFFFFFu || !(s & sts_bits::kStsValid) || !(s & sts_bits::kDataAvail))
      return Status::fail(Err::malformed, "TPM response ended after %zu of %zu bytes", got, want);
    uint32_t burst = sts_bits::burst_count(s);
    if (burst == 0) REDOUBT_TRY(wait_burst(l, burst, "reading a response"));
    for (uint32_t i = 0; i < burst && got < want; ++i) resp[got++] = mmio_.read8(reg(l, tis::kDataFifo));
    if (got == arch::tpm2::kHeaderSize && want == arch::tpm2::kHeaderSize) {
      const uint32_t size = (uint32_t{resp[2]} << 24) | (uint32_t{resp[3]} << 16) | (uint32_t{resp[4]} << 8) | resp[5];
      if (size < arch::tpm2::kHeaderSize)
        return Status::fail(Err::malformed, "TPM response header gives size %u, less than the header itself", size);
      if (size > cap) return Status::fail(Err::malformed, "TPM response of %u bytes exceeds the %zu-byte buffer", size, cap);
      want = size;
    }
  }
  REDOUBT_TRY(wait_sts(l, sts_bits::kStsValid, sts_bits::kStsValid, tis::kTimeoutCMs, "stsValid after the response"));
  if (sts(l) & sts_bits::kDataAvail)
    return Status::fail(Err::malformed, "TPM has response bytes beyond the %zu its header announced", want);
  len = got;
  return Status::ok();
}

Status TisDriver::transact(uint8_t l, const uint8_t* cmd, size_t cmd_len, uint8_t* resp, size_t resp_cap,
                           size_t& resp_len) {
  polls_ = 0;
  resp_len = 0;
  if (cmd_len < arch::tpm2::kHeaderSize || cmd_len > arch::tpm2::kMaxCommandSize)
    return Status::fail(Err::internal, "TPM command of %zu bytes (10..%u)", cmd_len, arch::tpm2::kMaxCommandSize);
  REDOUBT_TRY(request_locality(l));
  Status st = [&]() -> Status {
    // PTP §6 (command/response): commandReady moves the TPM to Ready (aborting anything left over).
    mmio_.write8(reg(l, tis::kSts), sts_bits::kCommandReady);
    REDOUBT_TRY(wait_sts(l, sts_bits::kCommandReady, sts_bits::kCommandReady, tis::kTimeoutBMs, "commandReady"));
    REDOUBT_TRY(send(l, cmd, cmd_len));
    mmio_.write8(reg(l, tis::kSts), sts_bits::kTpmGo);  // PTP §6 (command/response): execute
    REDOUBT_TRY(wait_sts(l, sts_bits::kStsValid | sts_bits::kDataAvail, sts_bits::kStsValid | sts_bits::kDataAvail,
                         kCommandWaitMs, "dataAvail after tpmGo"));
    Status r;
    for (int attempt = 0; attempt < kResponseRetries; ++attempt) {
      r = receive(l, resp, resp_cap, resp_len);
      if (r || r.code() != Err::malformed) break;
      // PTP §6 (command/response): responseRetry makes the TPM send the same response again from its first byte.
      mmio_.write8(reg(l, tis::kSts), sts_bits::kResponseRetry);
      REDOUBT_TRY(wait_sts(l, sts_bits::kStsValid, sts_bits::kStsValid, tis::kTimeoutDMs, "stsValid after responseRetry"));
    }
    return r;
  }();
  // PTP §6 (command/response): commandReady tells the TPM the response was consumed (or abandons the command).
  mmio_.write8(reg(l, tis::kSts), sts_bits::kCommandReady);
  Status rel = relinquish_locality(l);
  if (!st) return st;
  return rel;
}

}  // namespace redoubt::x86
