// The simulated AMD-Vi: PCI function, MMIO registers, command buffer, event log.
// Translation and the caches are in amd_iommu_walk.cpp.
#include "platform/sim/devices/amd_iommu.hpp"

#include <cstring>

#include "arch/x86/pci.hpp"

namespace redoubt::sim {

namespace v = arch::amd_iommu;
namespace pci = arch::pci;

namespace {
uint32_t byte_mask_bits(uint32_t byte_mask) {
  uint32_t m = 0;
  for (int i = 0; i < 4; ++i)
    if (byte_mask & (1u << i)) m |= 0xFFu << (8 * i);
  return m;
}
// Control bits software may set (§3.4 MMIO 0018h, bits 17:0; higher ones are features not modelled).
constexpr uint64_t kControlWritable = 0x3FFFF;
constexpr uint64_t kBaseWritable = 0x0F0FFFFFFFFFF000ull;  // [59:56] Len, [51:12] base (command / event rings)
}  // namespace

AmdIommu::AmdIommu(PhysicalMemory& mem, AmdIommuConfig cfg) : mem_(mem), cfg_(cfg) {}

void AmdIommu::reset() {
  dev_table_base_ = cmd_base_ = evt_base_ = control_ = excl_base_ = excl_limit_ = 0;
  cmd_head_ = cmd_tail_ = evt_head_ = evt_tail_ = 0;
  evt_overflow_ = evt_int_ = com_wait_int_ = cmd_stopped_ = false;
  dte_cache_.clear();
  iotlb_.clear();
  pde_cache_.clear();
}

// ---- PCI configuration space (§3.1 header, §3.2 capability block) ----

uint32_t AmdIommu::config_read(uint8_t reg) {
  switch (reg) {
    case pci::kVendorId: return (uint32_t{kDeviceId} << 16) | kVendorId;
    case pci::kCommand: return (uint32_t{pci::kStatusCapList} << 16) | command_;
    case pci::kClassRev: return v::kClassCode << 8;  // revision 0
    case 0x0C: return 0;                               // header type 0, single function
    case pci::kCapPtr: return kCapOffset;
    case kCapOffset + v::kCapHeader:
      // §3.2: ID 0Fh, no next capability, type 011b, revision 1, EFRSup, CapExt; no IotlbSup,
      // HtTunnel or NpCache (not-present entries are never cached).
      return v::kCapId | (uint32_t{v::kCapTypeIommu} << v::kCapTypeShift) | (v::kCapRev << v::kCapRevShift) |
             v::kCapHeaderEfrSup | v::kCapHeaderCapExt;
    case kCapOffset + v::kCapBaseLow:  // §3.2: base[31:14], Enable (firmware set it: the base is locked)
      return uint32_t(cfg_.mmio_base & v::kCapBaseLowAddrMask) | v::kCapBaseLowEnable;
    case kCapOffset + v::kCapBaseHigh: return uint32_t(cfg_.mmio_base >> 32);
    case kCapOffset + v::kCapRange: return 0;  // RngValid = 0: the ACPI IVRS table would say which devices
    case kCapOffset + v::kCapMisc:             // §3.2: 52-bit physical, 64-bit virtual addresses
      return (52u << v::kMiscPaSizeShift) | (64u << v::kMiscVaSizeShift);
    default: return 0;
  }
}

void AmdIommu::config_write(uint8_t reg, uint32_t value, uint32_t byte_mask) {
  const uint32_t mask = byte_mask_bits(byte_mask);
  // The command register keeps memory-space / bus-master enable; the base registers are locked
  // (Enable = 1, §3.2) and everything else is read-only.
  if (reg == pci::kCommand) command_ = uint16_t((command_ & ~mask) | (value & mask & 0x0006));
}

// ---- MMIO (§3.4) ----

uint64_t AmdIommu::status() const {
  uint64_t s = (evt_overflow_ ? v::status::kEventOverflow : 0) | (evt_int_ ? v::status::kEventLogInt : 0) |
               (com_wait_int_ ? v::status::kComWaitInt : 0);
  if (enabled() && (control_ & v::control::kEventLogEn) && !evt_overflow_) s |= v::status::kEventLogRun;
  if (enabled() && (control_ & v::control::kCmdBufEn) && !cmd_stopped_) s |= v::status::kCmdBufRun;
  return s;
}

uint64_t AmdIommu::reg_read(uint32_t reg) {
  switch (reg) {
    case v::mmio::kDevTableBase: return dev_table_base_;
    case v::mmio::kCmdBufBase: return cmd_base_;
    case v::mmio::kEventLogBase: return evt_base_;
    case v::mmio::kControl: return control_;
    case v::mmio::kExclusionBase: return excl_base_;
    case v::mmio::kExclusionLimit: return excl_limit_;
    case v::mmio::kExtFeature: return cfg_.ext_features;
    case v::mmio::kCmdBufHead: return cmd_head_;
    case v::mmio::kCmdBufTail: return cmd_tail_;
    case v::mmio::kEventLogHead: return evt_head_;
    case v::mmio::kEventLogTail: return evt_tail_;
    case v::mmio::kStatus: return status();
    default: return 0;
  }
}

uint64_t AmdIommu::mmio_read(uint64_t offset, unsigned size) {
  if (offset >= kMmioSize || size == 0 || size > 8 || (offset & (size - 1))) return 0;
  const uint64_t r = reg_read(uint32_t(offset & ~7ull)) >> (8 * (offset & 7));
  return size == 8 ? r : r & ((1ull << (8 * size)) - 1);
}

void AmdIommu::mmio_write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset >= kMmioSize || (size != 4 && size != 8) || (offset & (size - 1))) return;
  const unsigned sh = 8 * unsigned(offset & 4);
  const uint64_t mask = size == 8 ? ~0ull : 0xFFFFFFFFull << sh;
  reg_write(uint32_t(offset & ~7ull), size == 8 ? value : (value & 0xFFFFFFFFull) << sh, mask);
}

void AmdIommu::reg_write(uint32_t reg, uint64_t value, uint64_t mask) {
  auto set = [&](uint64_t& r, uint64_t writable) { r = (r & ~(mask & writable)) | (value & mask & writable); };
  switch (reg) {
    // §3.4 MMIO 0000h: DevTabBase[51:12], Size[8:0]. The spec leaves a change while IommuEn = 1
    // undefined; here it takes effect at once (cached entries stay until invalidated).
    case v::mmio::kDevTableBase: set(dev_table_base_, v::dev_table_base::kAddrMask | v::dev_table_base::kSizeMask); return;
    case v::mmio::kCmdBufBase: set(cmd_base_, kBaseWritable); return;
    case v::mmio::kEventLogBase: set(evt_base_, kBaseWritable); return;
    case v::mmio::kControl: {
      set(control_, kControlWritable);
      // §3.4: clearing CmdBufEn resets the processor's halted state (after ILLEGAL_COMMAND_ERROR);
      // with IommuEn and CmdBufEn set it fetches whatever lies between head and tail.
      if (!(control_ & v::control::kCmdBufEn)) cmd_stopped_ = false;
      process_commands();
      return;
    }
    case v::mmio::kExclusionBase: set(excl_base_, 0x000FFFFFFFFFF000ull | v::exclusion::kExEn | v::exclusion::kAllow); return;
    case v::mmio::kExclusionLimit: set(excl_limit_, 0x000FFFFFFFFFF000ull); return;
    case v::mmio::kExtFeature: return;  // read-only
    case v::mmio::kCmdBufHead: set(cmd_head_, v::kRingPtrMask); return;
    case v::mmio::kCmdBufTail:
      set(cmd_tail_, v::kRingPtrMask);
      if (mask & 0xFFFFFFFFull) process_commands();  // §3.4 MMIO 2008h: the IOMMU fetches up to the new tail
      return;
    case v::mmio::kEventLogHead: set(evt_head_, v::kRingPtrMask); return;  // software consumed up to here
    case v::mmio::kEventLogTail: set(evt_tail_, v::kRingPtrMask); return;  // software may set it while EventLogEn = 0
    case v::mmio::kStatus: {  // RW1C bits
      const uint64_t w1 = value & mask;
      if (w1 & v::status::kEventOverflow) evt_overflow_ = false;
      if (w1 & v::status::kEventLogInt) evt_int_ = false;
      if (w1 & v::status::kComWaitInt) com_wait_int_ = false;
      return;
    }
    default: return;
  }
}

// ---- Event log (§2.5) ----

void AmdIommu::log_event(const v::Event& e) {
  // §3.4: events are written only while the IOMMU and the event log are on and not overflowed.
  if (!enabled() || !(control_ & v::control::kEventLogEn) || evt_overflow_) {
    ++stats_.events_dropped;
    return;
  }
  const uint64_t bytes = v::ring_bytes(evt_base_);
  const uint64_t tail = evt_tail_ % bytes, head = evt_head_ % bytes;
  if ((tail + v::kEventBytes) % bytes == head) {  // §2.5: full: the event is lost, EventOverflow set
    evt_overflow_ = true;
    ++stats_.events_dropped;
    return;
  }
  uint8_t* p = mem_.map((evt_base_ & v::ring_base::kAddrMask) + tail, v::kEventBytes);
  if (!p) {
    ++stats_.events_dropped;
    return;
  }
  std::memcpy(p, e.q, v::kEventBytes);
  mem_.note_external_write();  // a memory write by the IOMMU, not by a CPU
  if (on_own_write) on_own_write((evt_base_ & v::ring_base::kAddrMask) + tail, v::kEventBytes);
  evt_tail_ = (tail + v::kEventBytes) % bytes;
  evt_int_ = true;  // §3.4: EventLogInt (the interrupt itself is not modelled)
  ++stats_.events_logged;
}

// ---- Command buffer (§2.4) ----

void AmdIommu::process_commands() {
  if (in_commands_ || !enabled() || !(control_ & v::control::kCmdBufEn) || cmd_stopped_) return;
  in_commands_ = true;
  const uint64_t bytes = v::ring_bytes(cmd_base_);
  const uint64_t base = cmd_base_ & v::ring_base::kAddrMask;
  if (cmd_tail_ >= bytes || cmd_head_ >= bytes) {
    // A pointer beyond the ring: the fetch would leave the buffer (COMMAND_HARDWARE_ERROR, §2.5).
    log_event(v::event::make(v::kCommandHwError, 0, 0, 0, base + cmd_tail_));
    cmd_stopped_ = true;
    in_commands_ = false;
    return;
  }
  for (uint64_t n = 0; cmd_head_ != cmd_tail_ && n < bytes / v::kCommandBytes; ++n) {
    const uint64_t at = base + cmd_head_;
    const uint8_t* p = mem_.map(at, v::kCommandBytes);
    if (!p) {
      log_event(v::event::make(v::kCommandHwError, 0, 0, 0, at));
      cmd_stopped_ = true;
      break;
    }
    v::Command c;
    std::memcpy(c.q, p, v::kCommandBytes);
    if (!execute(c, at)) {  // §2.4: the head stays at the illegal command; processing stops
      log_event(v::event::make(v::kIllegalCommandError, 0, 0, 0, at));
      ++stats_.illegal_commands;
      cmd_stopped_ = true;
      break;
    }
    cmd_head_ = (cmd_head_ + v::kCommandBytes) % bytes;
  }
  in_commands_ = false;
}

bool AmdIommu::execute(const v::Command& c, uint64_t at) {
  (void)at;
  const uint32_t op = uint32_t(c.q[0] >> v::kOpcodeShift);
  ++stats_.commands;
  if (executed_.size() == 4096) executed_.erase(executed_.begin());
  executed_.push_back(op);
  switch (op) {
    case v::kCompletionWait: {
      if (c.q[0] & v::cmd::kWaitReservedQ0) return false;
      // §2.4 COMPLETION_WAIT: every earlier command has completed (they are synchronous here);
      // S: store the second quadword at StoreAddr; I: set ComWaitInt.
      if (c.q[0] & v::cmd::kWaitStore) {
        uint8_t* p = mem_.map(c.q[0] & v::cmd::kWaitStoreAddrMask, 8);
        if (!p) {
          log_event(v::event::make(v::kCommandHwError, 0, 0, 0, c.q[0] & v::cmd::kWaitStoreAddrMask));
          return true;
        }
        std::memcpy(p, &c.q[1], 8);
        mem_.note_external_write();
        if (on_own_write) on_own_write(c.q[0] & v::cmd::kWaitStoreAddrMask, 8);
      }
      if (c.q[0] & v::cmd::kWaitInterrupt) com_wait_int_ = true;
      return true;
    }
    case v::kInvalidateDevTabEntry:  // §2.4: DeviceID [15:0]
      if ((c.q[0] & v::cmd::kDteReservedQ0) || c.q[1]) return false;
      dte_cache_.erase(uint16_t(c.q[0]));
      return true;
    case v::kInvalidateIommuPages: {  // §2.4: DomainID [47:32], S, PDE, Address
      if ((c.q[0] & v::cmd::kPagesReservedQ0) || (c.q[1] & v::cmd::kPagesReservedQ1)) return false;
      const uint16_t domain = uint16_t(c.q[0] >> v::cmd::kPagesDomainShift);
      const bool pde = c.q[1] & v::cmd::kPagesPde;
      if (c.q[1] & v::cmd::kPagesGn) return true;  // guest addresses: no guest translation is cached
      uint64_t first = c.q[1] & v::cmd::kPagesAddrMask, last = first | 0xFFF;
      if (c.q[1] & v::cmd::kPagesS) {  // the range the address encodes
        const uint32_t sh = v::cmd::pages_range_shift(c.q[1]);
        if (sh >= 64) first = 0, last = ~0ull;
        else first &= ~((1ull << sh) - 1), last = first | ((1ull << sh) - 1);
      }
      invalidate_pages(domain, first, last, pde);
      return true;
    }
    case v::kInvalidateIotlbPages:  // remote (ATS) IOTLBs: no device has one
    case v::kInvalidateIntTable:    // interrupt remapping is not modelled
      return true;
    case v::kInvalidateIommuAll:  // §2.4: only where EFR.IASup says it exists
      if (!(cfg_.ext_features & v::ext_feature::kIaSup) || (c.q[0] & v::cmd::kAllReservedQ0) || c.q[1]) return false;
      dte_cache_.clear();
      iotlb_.clear();
      pde_cache_.clear();
      return true;
    default: return false;  // §2.4: a reserved opcode is ILLEGAL_COMMAND_ERROR
  }
}

}  // namespace redoubt::sim
