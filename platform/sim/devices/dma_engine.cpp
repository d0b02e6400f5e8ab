#include "platform/sim/devices/dma_engine.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "arch/x86/pci.hpp"

namespace redoubt::sim {

namespace e = abi::dma_engine;
namespace pci = arch::pci;

DmaEngine::DmaEngine(DmaPort& port, std::string name, uint16_t device_id, uint32_t bar)
    : port_(port), who_{name, device_id}, name_(std::move(name)), id_(device_id), bar_(bar & ~(e::kBarSize - 1)) {}

uint32_t DmaEngine::config_read(uint8_t reg) {
  switch (reg) {
    case pci::kVendorId: return (uint32_t{e::kDeviceId} << 16) | e::kVendorId;
    case pci::kCommand: return command_;  // status: no capability list
    case pci::kClassRev: return e::kClassCode << 8;
    case 0x0C: return 0;     // header type 0, single function
    case e::kBar0: return bar_;  // 32-bit memory BAR, non-prefetchable (bits 3:0 = 0)
    case 0x2C: return (uint32_t{e::kDeviceId} << 16) | e::kVendorId;  // subsystem
    default: return 0;
  }
}

void DmaEngine::config_write(uint8_t reg, uint32_t value, uint32_t byte_mask) {
  uint32_t mask = 0;
  for (int i = 0; i < 4; ++i)
    if (byte_mask & (1u << i)) mask |= 0xFFu << (8 * i);
  if (reg == pci::kCommand) {
    command_ = uint16_t((command_ & ~mask) | (value & mask & (e::kCmdMemory | e::kCmdBusMaster)));
  } else if (reg == e::kBar0) {
    // PCI 3.0 §6.2.5.1: the size is the bits that do not stick (writing all ones reads ~(size - 1)).
    bar_ = (bar_ & ~mask) | (value & mask & ~(e::kBarSize - 1));
  }
}

uint64_t DmaEngine::mmio_read(uint64_t off, unsigned size) {
  if (size == 0 || size > 8 || (off & (size - 1)) || off >= e::kBarSize) return 0;
  if (off >= e::kBuffer) {
    uint64_t v = 0;
    std::memcpy(&v, buf_.data() + (off - e::kBuffer), size);
    return v;
  }
  if (size != 4 && size != 8) return 0;
  auto r64 = [&](uint64_t reg) -> uint64_t {
    if (size == 8) return reg;
    return (off & 4) ? reg >> 32 : reg & 0xFFFFFFFFu;
  };
  switch (off & ~7ull) {
    case e::kId: return size == 8 ? (uint64_t{1} << 32 | e::kIdValue) : (off & 4) ? 1 : e::kIdValue;
    case e::kRequester: return (off & 4) ? 0 : id_;
    case e::kSrc: return r64(src_);
    case e::kDst: return r64(dst_);
    case e::kLen: return r64(uint64_t{op_} << 32 | len_);
    case e::kPattern: return r64(pattern_);
    case e::kDoorbell: return r64(uint64_t{status_} << 32);
    case e::kFaultAddr: return r64(fault_addr_);
    case e::kFaultInfo: return r64(uint64_t{bytes_} << 32 | fault_info_);
    case e::kCompleted: return r64(uint64_t{faults_} << 32 | completed_);
    default: return 0;
  }
}

void DmaEngine::mmio_write(uint64_t off, unsigned size, uint64_t value) {
  if (size == 0 || size > 8 || (off & (size - 1)) || off >= e::kBarSize) return;
  if (off >= e::kBuffer) {
    std::memcpy(buf_.data() + (off - e::kBuffer), &value, size);
    return;
  }
  if (size != 4 && size != 8) return;
  // Split an 8-byte write into its dwords: register by register.
  for (unsigned k = 0; k < size / 4; ++k) {
    const uint64_t o = off + 4 * k;
    const uint32_t v = uint32_t(value >> (32 * k));
    auto set_half = [&](uint64_t& reg) {
      reg = (o & 4) ? (reg & 0xFFFFFFFFull) | (uint64_t{v} << 32) : (reg & ~0xFFFFFFFFull) | v;
    };
    switch (o) {
      case e::kSrc: case e::kSrc + 4: set_half(src_); break;
      case e::kDst: case e::kDst + 4: set_half(dst_); break;
      case e::kPattern: case e::kPattern + 4: set_half(pattern_); break;
      case e::kLen: len_ = v; break;
      case e::kOp: op_ = v; break;
      case e::kDoorbell: if (v & e::kGo) go(); break;
      case e::kStatus: status_ &= ~v; break;  // RW1C
      default: break;                          // read-only
    }
  }
}

uint32_t DmaEngine::run(e::Op op, uint64_t src, uint64_t dst, uint32_t len, uint64_t pattern) {
  mmio_write(e::kSrc, 8, src);
  mmio_write(e::kDst, 8, dst);
  mmio_write(e::kLen, 4, len);
  mmio_write(e::kOp, 4, op);
  mmio_write(e::kPattern, 8, pattern);
  mmio_write(e::kDoorbell, 4, e::kGo);
  return status_;
}

void DmaEngine::error(uint32_t code) {
  status_ = e::kError;
  fault_info_ = code << e::kErrShift;
  ++faults_;
}

void DmaEngine::fault(const DmaResult& r, bool write) {
  status_ = e::kFault;
  fault_addr_ = r.fault_addr;
  fault_info_ = (write ? e::kInfoWrite : 0) | (uint32_t(r.by) << e::kBlockerShift);
  ++faults_;
}

void DmaEngine::go() {
  status_ = 0;
  bytes_ = 0;
  fault_addr_ = 0;
  fault_info_ = 0;
  // PCI 3.0 §6.2.2: without Bus Master Enable a function issues no memory requests.
  if (!(command_ & e::kCmdBusMaster)) return error(e::kErrBusMaster);
  if (op_ > e::kOpFill) return error(e::kErrOp);
  const bool buffered = op_ == e::kOpRead || op_ == e::kOpWrite;
  if (len_ == 0 || len_ > (buffered ? e::kBufferSize : e::kMaxLength)) return error(e::kErrLength);
  const uint64_t a = op_ == e::kOpRead ? src_ : dst_;
  if (a + (len_ - 1) < a || (op_ == e::kOpCopy && src_ + (len_ - 1) < src_)) return error(e::kErrWrap);
  switch (op_) {
    case e::kOpCopy: {
      std::vector<uint8_t> tmp(len_);
      if (DmaResult r = port_.read(who_, src_, tmp); !r) return fault(r, false);
      if (DmaResult r = port_.write(who_, dst_, tmp); !r) return fault(r, true);
      break;
    }
    case e::kOpRead: {
      std::vector<uint8_t> tmp(len_);  // the buffer changes only if the whole read succeeds
      if (DmaResult r = port_.read(who_, src_, tmp); !r) return fault(r, false);
      std::memcpy(buf_.data(), tmp.data(), len_);
      break;
    }
    case e::kOpWrite:
      if (DmaResult r = port_.write(who_, dst_, std::span<const uint8_t>(buf_.data(), len_)); !r) return fault(r, true);
      break;
    case e::kOpFill: {
      std::vector<uint8_t> tmp(len_);
      std::memcpy(tmp.data(), &pattern_, std::min<uint32_t>(8, len_));  // little-endian, as the register
      for (uint32_t have = 8; have < len_; have *= 2) std::memcpy(tmp.data() + have, tmp.data(), std::min(have, len_ - have));
      if (DmaResult r = port_.write(who_, dst_, tmp); !r) return fault(r, true);
      break;
    }
  }
  bytes_ = len_;
  status_ = e::kDone;
  ++completed_;
}

}  // namespace redoubt::sim
