#include "platform/x86/hv_dma_selftest.hpp"

#include <cstring>

#include "arch/amd/iommu.hpp"
#include "arch/x86/pci.hpp"
#include "platform/x86/drivers/amd_iommu.hpp"
#include "platform/x86/drivers/io.hpp"
#include "platform/x86/drivers/pci_config.hpp"

namespace redoubt::x86 {
namespace {

namespace v = arch::amd_iommu;

// QEMU's educational PCI device (hw/misc/edu.c): a DMA engine with a 4 KiB buffer
// at device address 0x40000; DMA addresses are masked to 28 bits; a transfer
// starts 100 ms (virtual clock) after the command write. QEMU 7.2's range check
// (edu_check_range) is a hw_error that aborts QEMU, and it rejects a transfer that
// ends at the buffer's last byte: transfers here stay below 4 KiB.
constexpr uint16_t kEduVendor = 0x1234, kEduDevice = 0x11e8;
constexpr uint32_t kEduIdent = 0x00, kEduSrc = 0x80, kEduDst = 0x88, kEduCount = 0x90, kEduCmd = 0x98;
constexpr uint32_t kEduCmdRun = 1u << 0, kEduCmdToRam = 1u << 1;  // direction 1: edu buffer -> RAM
constexpr uint64_t kEduBuffer = 0x40000;
constexpr uint64_t kEduDmaLimit = 1ull << 28;
constexpr uint32_t kEduSpins = 100'000'000;

constexpr uint64_t kPage = 4096;
// Where things go in the hypervisor memory (all below edu's 28-bit reach). The
// window is in another 2 MiB region than the secret and the target: their walk
// ends at a not-present level-2 entry, not next to the granted page.
constexpr uint64_t kRegionOff = 2ull << 20;   // AMD-Vi device table, rings (AmdIommuLayout::kBytes)
constexpr uint64_t kPoolOff = 5ull << 20;     // I/O page tables
constexpr uint64_t kPoolSize = 64 * 1024;
constexpr uint64_t kSecretOff = 6ull << 20;   // hypervisor data a device must never read
constexpr uint64_t kTargetOff = 7ull << 20;   // hypervisor data a device must never write
constexpr uint64_t kWindowOff = 10ull << 20;  // the one page edu is granted
constexpr uint64_t kNeeded = 11ull << 20;
constexpr uint32_t kXfer = 256;
constexpr uint32_t kWriteXfer = 2048;

uint8_t secret_byte(uint32_t i) { return static_cast<uint8_t>("REDOUBT-SECRET-!"[i % 16] ^ (i / 16)); }
uint8_t target_byte(uint32_t i) { return static_cast<uint8_t>(0x5A ^ (i * 7)); }
uint8_t control_byte(uint32_t i) { return static_cast<uint8_t>(0xA5 ^ (i * 13)); }

struct Edu {
  PciAddress at{};
  uint64_t bar0 = 0;
};

Status find_edu(PortBus& io, Edu& e) {
  for (uint8_t dev = 0; dev < 32; ++dev) {
    const PciAddress a{0, dev, 0};
    const uint32_t id = pci_read32(io, a, arch::pci::kVendorId);
    if ((id & 0xFFFF) != kEduVendor || (id >> 16) != kEduDevice) continue;
    e.at = a;
    e.bar0 = pci_read32(io, a, 0x10) & ~0xFull;  // BAR0: 32-bit memory (PCI 3.0 §6.2.5.1)
    if (e.bar0 == 0) return Status::fail(Err::unsupported, "dma self-test: edu at 00:%02x.0 has no BAR0 assigned", unsigned(dev));
    // Command: memory space + bus master (PCI 3.0 §6.2.2), so the device can DMA at all.
    const uint32_t cmd = pci_read32(io, a, arch::pci::kCommand) & 0xFFFF;
    pci_write32(io, a, arch::pci::kCommand, cmd | 0x6);
    return Status::ok();
  }
  return Status::fail(Err::not_found, "dma self-test: no edu device (1234:11e8) on bus 0 (QEMU -device edu)");
}

Status edu_dma(Mmio& r, uint64_t src, uint64_t dst, uint32_t n, bool to_ram) {
  r.write32(kEduSrc, static_cast<uint32_t>(src));
  r.write32(kEduDst, static_cast<uint32_t>(dst));
  r.write32(kEduCount, n);
  r.write32(kEduCmd, kEduCmdRun | (to_ram ? kEduCmdToRam : 0));
  for (uint32_t i = 0; i < kEduSpins; ++i)
    if (!(r.read32(kEduCmd) & kEduCmdRun)) return Status::ok();
  return Status::fail(Err::fault, "dma self-test: edu DMA 0x%llx -> 0x%llx did not finish", (unsigned long long)src,
                      (unsigned long long)dst);
}

const char* event_name(uint32_t code) {
  switch (code) {
    case v::kIllegalDevTableEntry: return "ILLEGAL_DEV_TABLE_ENTRY";
    case v::kIoPageFault: return "IO_PAGE_FAULT";
    case v::kDevTabHwError: return "DEV_TAB_HARDWARE_ERROR";
    case v::kPageTabHwError: return "PAGE_TAB_HARDWARE_ERROR";
    case v::kIllegalCommandError: return "ILLEGAL_COMMAND_ERROR";
    case v::kCommandHwError: return "COMMAND_HARDWARE_ERROR";
    default: return "other";
  }
}

}  // namespace

Status dma_selftest(hal::Platform& platform, const abi::BareHvEntry& entry, bool protect) {
  auto& c = platform.console();
  const hal::HypervisorHandoff& h = entry.handoff;
  if (h.hv_memory_pa % kPage || h.hv_memory_size < kNeeded || h.hv_memory_pa + kNeeded > kEduDmaLimit)
    return Status::fail(Err::malformed, "dma self-test: needs %llu MiB of hypervisor memory below 256 MiB, got 0x%llx +0x%llx",
                        (unsigned long long)(kNeeded >> 20), (unsigned long long)h.hv_memory_pa,
                        (unsigned long long)h.hv_memory_size);
  const uint64_t base = h.hv_memory_pa;
  const uint64_t secret_pa = base + kSecretOff, target_pa = base + kTargetOff, window_pa = base + kWindowOff;
  uint8_t* secret = platform.mem().map(secret_pa, kPage);
  uint8_t* target = platform.mem().map(target_pa, kPage);
  uint8_t* window = platform.mem().map(window_pa, kPage);
  if (!secret || !target || !window) return Status::fail(Err::fault, "dma self-test: hypervisor memory outside RAM");

  X86PortBus io;
  Edu edu;
  REDOUBT_TRY(find_edu(io, edu));
  VolatileMmio er(edu.bar0);
  const uint16_t edu_id = static_cast<uint16_t>(edu.at.device << 3 | edu.at.function);
  c.print("[hv] dma self-test: edu at 00:%02x.%x, BAR0 0x%llx, ident 0x%08x\n", unsigned(edu.at.device),
          unsigned(edu.at.function), (unsigned long long)edu.bar0, er.read32(kEduIdent));

  AmdIommu iommu(io, platform.mem());
  REDOUBT_TRY(iommu.find());
  c.print("[hv] dma self-test: AMD-Vi at 00:%02x.%x cap 0x%x, MMIO 0x%llx, extended features 0x%llx\n",
          unsigned(iommu.pci().device), unsigned(iommu.pci().function), unsigned(iommu.cap_offset()),
          (unsigned long long)iommu.mmio_base(), (unsigned long long)iommu.ext_features());
  if (protect) {
    REDOUBT_TRY(iommu.enable(base + kRegionOff, AmdIommuLayout::kBytes, nullptr, 0));
    REDOUBT_TRY(iommu.set_page_table_pool(base + kPoolOff, kPoolSize));
    REDOUBT_TRY(iommu.grant(edu_id, window_pa, window_pa, kPage, true, true));
    c.print("[hv] dma self-test: AMD-Vi enabled, all 65536 DeviceIDs blocked; edu granted the window 0x%llx (read/write)\n",
            (unsigned long long)window_pa);
    c.print("[hv] dma self-test: is_protected: secret page %s, target page %s, window %s\n",
            iommu.is_protected(secret_pa, kPage) ? "yes" : "NO", iommu.is_protected(target_pa, kPage) ? "yes" : "NO",
            iommu.is_protected(window_pa, kPage) ? "YES" : "no");
  } else {
    c.print("[hv] dma self-test: AMD-Vi left DISABLED (test-only switch): nothing stops edu\n");
  }

  // (c) The positive control: window -> edu buffer -> window + 2 KiB.
  for (uint32_t i = 0; i < kPage; ++i) window[i] = i < kXfer ? control_byte(i) : 0;
  REDOUBT_TRY(edu_dma(er, window_pa, kEduBuffer, kXfer, false));
  REDOUBT_TRY(edu_dma(er, kEduBuffer, window_pa + 2048, kXfer, true));
  bool control_ok = true;
  for (uint32_t i = 0; i < kXfer; ++i) control_ok = control_ok && window[2048 + i] == control_byte(i);
  c.print("[hv] dma self-test: (c) edu copied %u bytes window -> buffer -> window: %s\n", kXfer,
          control_ok ? "ok (the device does DMA)" : "FAILED");

  // (a) Read attack: the secret page -> edu buffer -> the window.
  for (uint32_t i = 0; i < kPage; ++i) secret[i] = secret_byte(i);
  for (uint32_t i = 0; i < kPage; ++i) window[i] = 0;
  REDOUBT_TRY(edu_dma(er, secret_pa, kEduBuffer, kXfer, false));
  REDOUBT_TRY(edu_dma(er, kEduBuffer, window_pa, kXfer, true));
  uint32_t leaked = 0;
  for (uint32_t i = 0; i < kXfer; ++i) leaked += window[i] == secret_byte(i);
  const bool secret_leaked = leaked == kXfer;
  c.print("[hv] dma self-test: (a) edu read the secret page 0x%llx into the window: %s (%u of %u bytes match)\n",
          (unsigned long long)secret_pa, secret_leaked ? "SECRET LEAKED" : "blocked, nothing leaked", leaked, kXfer);

  // (b) Write attack: edu buffer -> the target page.
  for (uint32_t i = 0; i < kPage; ++i) target[i] = target_byte(i);
  REDOUBT_TRY(edu_dma(er, kEduBuffer, target_pa, kWriteXfer, true));
  uint32_t changed = 0;
  for (uint32_t i = 0; i < kPage; ++i) changed += target[i] != target_byte(i);
  c.print("[hv] dma self-test: (b) edu wrote %u bytes over the protected page 0x%llx: %s (%u bytes changed)\n",
          kWriteXfer, (unsigned long long)target_pa, changed ? "PAGE CHANGED" : "blocked, page unchanged", changed);

  // The IOMMU's event log.
  if (protect) {
    v::Event ev[16];
    const size_t n = iommu.read_events(ev, 16);
    uint32_t faults = 0;
    for (size_t i = 0; i < n; ++i) {
      const uint16_t d = v::event::device_id(ev[i]);
      faults += v::event::code(ev[i]) == v::kIoPageFault;
      c.print("[hv] dma self-test: event %s device %02x:%02x.%x address 0x%llx flags 0x%03x (raw 0x%016llx 0x%016llx)\n",
              event_name(v::event::code(ev[i])), d >> 8, (d >> 3) & 31, d & 7,
              (unsigned long long)v::event::address(ev[i]), v::event::flags(ev[i]), (unsigned long long)ev[i].q[0],
              (unsigned long long)ev[i].q[1]);
    }
    c.print("[hv] dma self-test: %u events in the IOMMU event log, %u IO_PAGE_FAULT%s\n", unsigned(n), faults,
            iommu.event_overflow() ? " (overflowed)" : "");
  }

  if (!control_ok) return Status::fail(Err::internal, "dma self-test: the positive control failed: edu did no DMA");
  if (protect) {
    if (secret_leaked || changed)
      return Status::fail(Err::fault, "dma self-test: AMD-Vi did not stop edu (%s%s)", secret_leaked ? "secret leaked " : "",
                          changed ? "page changed" : "");
    c.print("[hv] dma self-test: AMD-Vi blocked edu: nothing leaked, nothing changed\n");
    return Status::ok();
  }
  return Status::fail(Err::fault, "dma self-test without AMD-Vi: %s, %s", secret_leaked ? "the secret leaked" : "no leak",
                      changed ? "the protected page changed" : "no change");
}

}  // namespace redoubt::x86
