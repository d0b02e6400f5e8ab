#include "platform/sim/devices/tpm_tis.hpp"

#include <algorithm>

#include "arch/tpm/tpm2.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::sim {

namespace tis = arch::tis;
namespace access = arch::tis::access;
namespace sts = arch::tis::sts;

namespace {
uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// A 10-byte response header carrying only a response code (TPM 2.0 Part 1 §18.4).
std::vector<uint8_t> error_response(uint32_t rc) {
  return {0x80, 0x01, 0, 0, 0, 10, uint8_t(rc >> 24), uint8_t(rc >> 16), uint8_t(rc >> 8), uint8_t(rc)};
}
constexpr uint32_t kRcCommandSize = 0x142;  // TPM_RC_COMMAND_SIZE, Part 2 §6.6.3: size inconsistent with contents
}  // namespace

TpmTis::TpmTis(tpm::TpmDevice& tpm, uint16_t burst) : tpm_(tpm), burst_(burst ? burst : 1) {}

uint64_t TpmTis::mmio_read(uint64_t offset, unsigned size) {
  if ((size != 1 && size != 2 && size != 4) || offset >= kSize || offset + size > kSize)
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
  const uint32_t locality = static_cast<uint32_t>(offset / tis::kLocalityStride);
  const uint32_t off = static_cast<uint32_t>(offset % tis::kLocalityStride);
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= uint64_t{read_byte(locality, off + i)} << (8 * i);  // little endian
  return v;
}

void TpmTis::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
  if ((size != 1 && size != 2 && size != 4) || offset >= kSize || offset + size > kSize) return;
  const uint32_t locality = static_cast<uint32_t>(offset / tis::kLocalityStride);
  // PTP §6 (register space, locality usage): locality 4 is reachable only by the CPU's special cycles
  // (SKINIT/SENTER); software writes there never reach the TPM.
  if (locality == 4) return;
  const uint32_t off = static_cast<uint32_t>(offset % tis::kLocalityStride);
  for (unsigned i = 0; i < size; ++i) write_byte(locality, off + i, static_cast<uint8_t>(value >> (8 * i)));
}

bool TpmTis::expect() const {
  // PTP §6 (TPM_STS_x): Expect stays 1 until the TPM has the whole command; its size is at bytes 2..5.
  if (state_ != State::reception) return false;
  if (cmd_.size() < 6) return true;
  return cmd_.size() < be32(cmd_.data() + 2);
}

uint32_t TpmTis::sts_value() const {
  uint32_t v = sts::kTpmFamily20 | sts::kSelfTestDone | sts::kStsValid;
  uint32_t burst = 0;
  switch (state_) {
    case State::idle: break;
    case State::ready:
      v |= sts::kCommandReady;
      burst = kBufferSize;
      break;
    case State::reception:
      if (expect()) v |= sts::kExpect;
      burst = kBufferSize - static_cast<uint32_t>(cmd_.size());
      break;
    case State::execution: v &= ~sts::kStsValid; break;  // never observed: execution is synchronous
    case State::completion:
      burst = static_cast<uint32_t>(resp_.size() - resp_pos_);
      if (burst) v |= sts::kDataAvail;
      break;
  }
  burst = std::min<uint32_t>(burst, burst_);
  return v | (burst << sts::kBurstCountShift);
}

uint8_t TpmTis::read_byte(uint32_t locality, uint32_t off) {
  const bool active = active_ == static_cast<int>(locality);
  if (off == tis::kAccess) {
    uint8_t v = access::kTpmRegValidSts;
    if (!established_) v |= access::kTpmEstablishment;  // PTP §6 (TPM_ACCESS_x): 1 = no dynamic launch yet
    if (active) v |= access::kActiveLocality;
    if (request_use_[locality]) v |= access::kRequestUse;
    if (been_seized_[locality]) v |= access::kBeenSeized;
    for (uint32_t l = 0; l < tis::kLocalities; ++l)
      if (l != locality && request_use_[l]) v |= access::kPendingRequest;
    return v;
  }
  if (off >= tis::kIntEnable && off < tis::kIntEnable + 4) return 0;    // no interrupt can be enabled
  if (off == tis::kIntVector) return 0;                                  // no SIRQ assigned
  if (off >= tis::kIntStatus && off < tis::kIntStatus + 4) return 0;    // never an interrupt
  if (off >= tis::kIntfCapability && off < tis::kIntfCapability + 4) {
    // PTP §6 (TPM_INTF_CAPABILITY_x): no interrupt support (bits 7:0 = 0), dynamic burstCount, 64-byte
    // transfers, interface version "FIFO for TPM 2.0".
    const uint32_t cap = arch::tis::intf_cap::kDataTransfer64B | arch::tis::intf_cap::kInterfaceVersionTpm20;
    return static_cast<uint8_t>(cap >> (8 * (off - tis::kIntfCapability)));
  }
  if (off >= tis::kSts && off < tis::kSts + 4) {
    if (!active) return 0xFF;  // PTP §6 (TPM_STS_x): STS of a locality that is not active reads FFh
    return static_cast<uint8_t>(sts_value() >> (8 * (off - tis::kSts)));
  }
  if ((off >= tis::kDataFifo && off < tis::kDataFifo + 4) || (off >= tis::kXDataFifo && off <= tis::kXDataFifoEnd))
    return active ? fifo_read() : 0xFF;
  if (off >= tis::kInterfaceId && off < tis::kInterfaceId + 4) {
    uint32_t id = arch::tis::interface_id::kTypeFifo | arch::tis::interface_id::kVersionFifo |
                  arch::tis::interface_id::kCapLocality | arch::tis::interface_id::kCapTis;
    if (intf_sel_lock_) id |= arch::tis::interface_id::kIntfSelLock;
    return static_cast<uint8_t>(id >> (8 * (off - tis::kInterfaceId)));
  }
  if (off >= tis::kDidVid && off < tis::kDidVid + 4) {
    const uint32_t didvid = (uint32_t{kDeviceId} << 16) | kVendorId;
    return static_cast<uint8_t>(didvid >> (8 * (off - tis::kDidVid)));
  }
  if (off == tis::kRid) return kRevisionId;
  return 0xFF;  // unimplemented register space
}

void TpmTis::write_byte(uint32_t locality, uint32_t off, uint8_t v) {
  const bool active = active_ == static_cast<int>(locality);
  if (off == tis::kAccess) return write_access(locality, v);
  if (off >= tis::kSts && off < tis::kSts + 4) {
    if (active) write_sts(locality, off - tis::kSts, v);
    return;  // PTP §6 (TPM_STS_x): writes to STS of a locality that is not active are dropped
  }
  if ((off >= tis::kDataFifo && off < tis::kDataFifo + 4) || (off >= tis::kXDataFifo && off <= tis::kXDataFifoEnd)) {
    if (active) fifo_write(v);
    return;
  }
  if (off == tis::kInterfaceId + 2 && (v & (arch::tis::interface_id::kIntfSelLock >> 16))) intf_sel_lock_ = true;
  // INT_ENABLE/INT_VECTOR: no interrupt is supported, the bits are read-only 0. Others: read-only.
}

void TpmTis::write_access(uint32_t l, uint8_t v) {
  // PTP §6 (TPM_ACCESS_x, locality arbitration). Seize overrides requestUse and
  // activeLocality written together with it.
  if (v & access::kBeenSeized) been_seized_[l] = false;
  if (v & access::kSeize) {
    if (active_ < 0 || static_cast<int>(l) > active_) {
      if (active_ >= 0) been_seized_[active_] = true;
      request_use_[l] = false;
      set_active(static_cast<int>(l));
    }
    return;
  }
  if (v & access::kActiveLocality) {
    if (active_ == static_cast<int>(l)) {
      // Relinquish: the highest locality asking for use gets it next.
      int next = -1;
      for (int c = tis::kLocalities - 1; c >= 0; --c)
        if (request_use_[c]) {
          next = c;
          break;
        }
      if (next >= 0) request_use_[next] = false;
      set_active(next);
    } else {
      request_use_[l] = false;  // withdraw a pending request
    }
  }
  if (v & access::kRequestUse) {
    if (active_ < 0) set_active(static_cast<int>(l));
    else if (active_ != static_cast<int>(l)) request_use_[l] = true;
  }
}

void TpmTis::set_active(int locality) {
  if (locality != active_) {
    state_ = State::idle;  // a locality change aborts whatever the FIFO held
    cmd_.clear();
    resp_.clear();
    resp_pos_ = 0;
  }
  active_ = locality;
}

void TpmTis::write_sts(uint32_t locality, uint32_t byte, uint8_t v) {
  if (byte == 3) {
    // resetEstablishmentBit (bit 25) works from locality 3 or 4 only (PTP §6, TPM_STS_x);
    // commandCancel (bit 24): commands run synchronously, there is nothing to cancel.
    if ((v & (sts::kResetEstablishmentBit >> 24)) && locality == 3) established_ = false;
    return;
  }
  if (byte != 0) return;  // burstCount is read-only
  if (v & sts::kCommandReady) {
    // PTP §6 (state transitions): from Idle to Ready; from Ready/Reception/Completion the
    // command or response is discarded and the TPM is Ready again.
    state_ = State::ready;
    cmd_.clear();
    resp_.clear();
    resp_pos_ = 0;
    return;
  }
  if ((v & sts::kTpmGo) && state_ == State::reception && !expect()) return execute(locality);
  if ((v & sts::kResponseRetry) && state_ == State::completion) resp_pos_ = 0;  // PTP §6 (command/response)
}

void TpmTis::fifo_write(uint8_t b) {
  if (state_ == State::ready) state_ = State::reception;
  if (state_ != State::reception) return;  // PTP: data written outside Ready/Reception is dropped
  if (cmd_.size() >= 6 && !expect()) return;  // beyond the size in the header: dropped
  if (cmd_.size() >= kBufferSize) return;
  cmd_.push_back(b);
}

uint8_t TpmTis::fifo_read() {
  if (state_ != State::completion || resp_pos_ >= resp_.size()) return 0xFF;  // no data byte
  return resp_[resp_pos_++];
}

void TpmTis::execute(uint32_t locality) {
  state_ = State::execution;
  last_error_.clear();
  if (cmd_.size() < arch::tpm2::kHeaderSize || be32(cmd_.data() + 2) != cmd_.size()) {
    resp_ = error_response(kRcCommandSize);
  } else {
    try {
      resp_ = tpm_.transmit(static_cast<uint8_t>(locality), cmd_);
    } catch (const std::exception& e) {
      last_error_ = e.what();
      resp_ = error_response(arch::tpm2::kRcFailure);
    }
  }
  ++commands_;
  if (response_filter) response_filter(resp_);
  if (resp_.size() > kBufferSize) resp_.resize(kBufferSize);
  cmd_.clear();
  resp_pos_ = 0;
  state_ = State::completion;
}

}  // namespace redoubt::sim
