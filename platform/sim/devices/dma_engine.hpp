// A programmable PCI bus master (abi/dma_engine.hpp has the register interface):
// the simulator's DMA-capable device. Each instance has a requester ID
// (bus/device/function, the DeviceID AMD-Vi translates by) and reaches memory only
// through sim::DmaPort, so the DEV and AMD-Vi see every access. Transfers are
// synchronous: a DOORBELL write completes the operation before it returns. A
// blocked transfer moves nothing; STATUS, FAULT_ADDR and FAULT_INFO say what
// stopped it, and the DmaPort keeps the fault.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "abi/dma_engine.hpp"
#include "platform/sim/dev.hpp"
#include "platform/sim/devices/pci_config.hpp"

namespace redoubt::sim {

class DmaEngine final : public PciFunction {
 public:
  // `bar`: where "firmware" put BAR0 (8 KiB aligned); Memory Space and Bus Master enabled.
  DmaEngine(DmaPort& port, std::string name, uint16_t device_id, uint32_t bar);

  void plug_into(PciConfigPorts& pci) {
    pci.attach(uint8_t(id_ >> 8), uint8_t((id_ >> 3) & 0x1F), uint8_t(id_ & 7), *this);
  }
  uint32_t config_read(uint8_t reg) override;
  void config_write(uint8_t reg, uint32_t value, uint32_t byte_mask) override;

  // BAR0 offsets. 4-byte accesses to any register, 8-byte to the 64-bit ones; the buffer
  // takes 1/2/4/8-byte accesses. Anything else reads 0 / is dropped.
  uint64_t mmio_read(uint64_t offset, unsigned size);
  void mmio_write(uint64_t offset, unsigned size, uint64_t value);

  // Whether the engine decodes physical address `pa` (BAR0 with Memory Space on), and where.
  bool decodes(uint64_t pa) const {
    return (command_ & abi::dma_engine::kCmdMemory) && pa >= bar_ && pa - bar_ < abi::dma_engine::kBarSize;
  }
  uint32_t bar() const { return bar_; }
  uint16_t device_id() const { return id_; }
  const std::string& name() const { return name_; }

  // The harness as an attacker (or a test): program the registers and ring the doorbell,
  // exactly as code would through BAR0. Returns STATUS.
  uint32_t run(abi::dma_engine::Op op, uint64_t src, uint64_t dst, uint32_t len, uint64_t pattern = 0);
  std::array<uint8_t, abi::dma_engine::kBufferSize>& buffer() { return buf_; }
  uint32_t status() const { return status_; }
  uint64_t fault_addr() const { return fault_addr_; }
  uint32_t fault_info() const { return fault_info_; }

 private:
  void go();
  void fault(const DmaResult& r, bool write);
  void error(uint32_t code);

  DmaPort& port_;
  BusMaster who_;
  std::string name_;
  uint16_t id_;
  uint32_t bar_;
  uint16_t command_ = abi::dma_engine::kCmdMemory | abi::dma_engine::kCmdBusMaster;
  uint64_t src_ = 0, dst_ = 0, pattern_ = 0, fault_addr_ = 0;
  uint32_t len_ = 0, op_ = 0, status_ = 0, fault_info_ = 0, bytes_ = 0, completed_ = 0, faults_ = 0;
  std::array<uint8_t, abi::dma_engine::kBufferSize> buf_{};
};

}  // namespace redoubt::sim
