// The AMD-Vi driver (platform/x86/drivers/amd_iommu) natively, against a small
// model of the IOMMU written here from the spec (48882): PCI capability, MMIO
// registers, a command processor (COMPLETION_WAIT, INVALIDATE_*), and a DMA check
// that walks the device table and the 4-level host page tables as §2.2.2 / §2.2.3
// say. Checks: every DeviceID blocked after enable(); a DMA write into the table
// before the enable is detected; grant() opens exactly the granted pages for
// exactly that device with exactly those permissions; attach(); the event log.
#define BOOST_TEST_MODULE x86_amd_iommu_driver
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "arch/amd/iommu.hpp"
#include "platform/x86/drivers/amd_iommu.hpp"
#include "platform/x86/drivers/dma_protection.hpp"
#include "tests/platform/x86/sim_io.hpp"

using namespace redoubt;
namespace v = arch::amd_iommu;

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kRam = 16 << 20;
constexpr uint64_t kMmioBase = 0xFED80000;
constexpr uint64_t kRegion = 0x400000;  // the AMD-Vi region (device table, rings)
constexpr uint64_t kPool = 0x800000;    // grants' page tables
constexpr uint32_t kIommuDevfn = 2 << 3;  // 00:02.0
constexpr uint16_t kEdu = 4 << 3;         // 00:04.0

struct Ram final : hal::PhysMem {
  std::vector<uint8_t> b = std::vector<uint8_t>(kRam, 0);
  uint8_t* map(uint64_t pa, uint64_t n) override { return pa <= b.size() && n <= b.size() - pa ? b.data() + pa : nullptr; }
  uint64_t q(uint64_t pa) {
    uint64_t x;
    std::memcpy(&x, b.data() + pa, 8);
    return x;
  }
};

// The IOMMU model: registers as the spec lays them out, commands executed when the tail moves.
struct IommuModel final : x86::Mmio {
  Ram& ram;
  std::map<uint32_t, uint64_t> reg;
  std::vector<uint64_t> opcodes;  // executed commands, in order
  std::function<void(uint32_t, uint32_t)> before_write;
  explicit IommuModel(Ram& r) : ram(r) {
    reg[v::mmio::kExtFeature] = v::ext_feature::kIaSup | v::ext_feature::kPprSup;
  }
  uint64_t get(uint32_t off) { return reg[off & ~7u]; }
  uint8_t read8(uint64_t off) override { return uint8_t(get(uint32_t(off)) >> 8 * (off & 7)); }
  uint32_t read32(uint64_t off) override { return uint32_t(get(uint32_t(off)) >> 8 * (off & 4)); }
  void write8(uint64_t, uint8_t) override { BOOST_FAIL("8-bit MMIO write"); }
  void write32(uint64_t off, uint32_t val) override {
    if (before_write) before_write(uint32_t(off), val);
    uint64_t& r = reg[uint32_t(off) & ~7u];
    const unsigned sh = 8 * (off & 4);
    if ((off & ~7u) == v::mmio::kExtFeature) return;  // read-only
    if ((off & ~7u) == v::mmio::kStatus) {             // RW1C
      r &= ~(uint64_t(val) << sh);
      return;
    }
    r = (r & ~(0xFFFFFFFFull << sh)) | (uint64_t(val) << sh);
    if ((off & ~7u) == v::mmio::kCmdBufTail) run_commands();
  }
  bool on() { return reg[v::mmio::kControl] & v::control::kIommuEn; }
  void run_commands() {
    if (!on() || !(reg[v::mmio::kControl] & v::control::kCmdBufEn)) return;
    const uint64_t base = reg[v::mmio::kCmdBufBase] & v::ring_base::kAddrMask;
    const uint32_t bytes = (1u << ((reg[v::mmio::kCmdBufBase] >> 56) & 15)) * 16;
    uint64_t& head = reg[v::mmio::kCmdBufHead];
    while (head != (reg[v::mmio::kCmdBufTail] & v::kRingPtrMask)) {
      const uint64_t q0 = ram.q(base + head), q1 = ram.q(base + head + 8);
      opcodes.push_back(q0 >> 60);
      if ((q0 >> 60) == v::kCompletionWait && (q0 & v::cmd::kWaitStore))  // §2.4 COMPLETION_WAIT
        std::memcpy(ram.map(q0 & v::cmd::kWaitStoreAddrMask, 8), &q1, 8);
      head = (head + 16) % bytes;
    }
  }
  size_t count(uint64_t opcode) const { return size_t(std::count(opcodes.begin(), opcodes.end(), opcode)); }
  // §2.2.2.1 / §2.2.3: may `dev` read (write) `addr`? Where to, if so (`to`).
  bool dma_ok(uint16_t dev, uint64_t addr, bool write, uint64_t* to = nullptr) {
    if (to) *to = addr;
    if (!on()) return true;
    const uint64_t dtb = reg[v::mmio::kDevTableBase];
    if (uint64_t(dev) * 32 >= ((dtb & 0x1FF) + 1) * kPage) return false;
    const uint64_t e = (dtb & v::dev_table_base::kAddrMask) + uint64_t(dev) * 32;
    const uint64_t d0 = ram.q(e);
    if (!(d0 & v::dte::kV)) return true;   // V = 0: not translated
    if (!(d0 & v::dte::kTv)) return false; // no valid translation information (QEMU 7.2 blocks too)
    const uint64_t perm = write ? v::dte::kIw : v::dte::kIr;
    if (!(d0 & perm)) return false;
    const uint32_t mode = uint32_t(d0 >> 9) & 7;
    if (mode == 0) return true;
    uint64_t table = d0 & v::dte::kRootMask;
    for (uint32_t level = mode; level >= 1; --level) {
      const uint64_t pte = ram.q(table + 8 * v::table_index(addr, level));
      if (!(pte & v::pte::kPr) || !(pte & perm)) return false;
      const uint32_t next = uint32_t(pte >> 9) & 7;
      if (level == 1) {
        if (to) *to = (pte & v::pte::kAddrMask) | (addr & (kPage - 1));
        return next == 0;
      }
      if (next != level - 1) return false;
      table = pte & v::pte::kAddrMask;
    }
    return false;
  }
};

struct Fixture {
  Ram ram;
  IommuModel model{ram};
  devtest::FnPortBus io;
  uint32_t cf8 = 0;
  int iommus = 1;
  bool ht = false;  // capability header HtTunnel
  x86::AmdIommu drv{io, ram, &model};
  Fixture() {
    io.in = [this](uint16_t p, unsigned) -> uint32_t {
      if (p != 0xCFC || !(cf8 & 0x80000000u) || ((cf8 >> 16) & 0xFF) != 0) return ~0u;
      const uint32_t devfn = (cf8 >> 8) & 0xFF, r = cf8 & 0xFC;
      if (devfn == 0) return r == 0 ? 0x14501022u : 0;  // a host bridge without capabilities
      const bool iommu = devfn == kIommuDevfn || (iommus == 2 && devfn == (7 << 3));
      if (!iommu) return ~0u;
      switch (r) {
        case 0x00: return 0x14511022u;
        case 0x04: return 0x00100000u;  // status: capability list
        case 0x0C: return 0;            // single function
        case 0x34: return 0x40;
        case 0x40: return v::kCapId | (uint32_t(v::kCapTypeIommu) << 16) | v::kCapHeaderEfrSup | (ht ? v::kCapHeaderHtTunnel : 0);
        case 0x44: return uint32_t(kMmioBase) | v::kCapBaseLowEnable;
        case 0x48: return 0;
        default: return 0;
      }
    };
    io.out = [this](uint16_t p, unsigned, uint32_t val) {
      if (p == 0xCF8) cf8 = val;
    };
  }
  Status enable() { return drv.enable(kRegion, x86::AmdIommuLayout::kBytes, nullptr, 0); }
};

const char* msg(const Status& s) { return s.message(); }
}  // namespace

BOOST_FIXTURE_TEST_CASE(find_reads_the_capability_and_the_mmio_window, Fixture) {
  const Status st = drv.find();
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(drv.pci().device == 2);
  BOOST_TEST(drv.cap_offset() == 0x40);
  BOOST_TEST(drv.mmio_base() == kMmioBase);
  BOOST_TEST(drv.ext_features() == (v::ext_feature::kIaSup | v::ext_feature::kPprSup));
}

BOOST_FIXTURE_TEST_CASE(a_second_iommu_is_refused, Fixture) {
  iommus = 2;
  const Status st = drv.find();
  BOOST_TEST(st.code() == Err::unsupported);
  BOOST_TEST(std::string(msg(st)) == "AMD-Vi: more than one IOMMU");
}

BOOST_FIXTURE_TEST_CASE(enable_blocks_every_device_and_closes_the_exclusion_range, Fixture) {
  // What an untrusted pre-launch environment may leave: the IOMMU on, an exclusion range over everything.
  model.reg[v::mmio::kControl] = v::control::kIommuEn;
  model.reg[v::mmio::kExclusionBase] = v::exclusion::kExEn | v::exclusion::kAllow;
  model.reg[v::mmio::kExclusionLimit] = 0x000FFFFFFFFFF000ull;
  const Status st = enable();
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(model.reg[v::mmio::kDevTableBase] == (kRegion | 0x1FF));
  BOOST_TEST(model.reg[v::mmio::kCmdBufBase] == ((kRegion + (2u << 20)) | (8ull << 56)));
  BOOST_TEST(model.reg[v::mmio::kEventLogBase] == ((kRegion + (2u << 20) + 4096) | (8ull << 56)));
  BOOST_TEST(model.reg[v::mmio::kExclusionBase] == 0u);
  BOOST_TEST(model.reg[v::mmio::kControl] ==
             (v::control::kIommuEn | v::control::kEventLogEn | v::control::kCmdBufEn | v::control::kCoherent));
  // INVALIDATE_IOMMU_ALL (EFR.IASup), then the COMPLETION_WAIT the driver waited for.
  BOOST_TEST(model.opcodes == (std::vector<uint64_t>{v::kInvalidateIommuAll, v::kCompletionWait}));
  for (uint32_t d = 0; d < v::kMaxDevices; ++d) {
    const uint64_t e = kRegion + uint64_t(d) * 32;
    if (ram.q(e) != v::kBlockingDte.q[0] || ram.q(e + 8) != 0 || ram.q(e + 16) != v::dte::kIv || ram.q(e + 24) != 0) {
      BOOST_FAIL("DTE " << d << " does not block");
    }
  }
  for (uint32_t d : {0u, uint32_t(kEdu), 0x100u, 0xFFFFu})
    for (uint64_t a : {uint64_t{0}, uint64_t{0x1000}, kRegion, kRegion + (2u << 20), kRam - kPage})
      for (bool w : {false, true}) BOOST_TEST(!model.dma_ok(uint16_t(d), a, w), "device " << d << " address " << a);
  BOOST_TEST(drv.is_protected(0, kRam));
  BOOST_TEST(drv.protect(0x1000, 0x2000).is_ok());
  // An IOMMU that can translate HyperTransport tunnel traffic gets HtTunEn too.
  ht = true;
  x86::AmdIommu tunnel{io, ram, &model};
  BOOST_TEST_REQUIRE(tunnel.enable(kRegion, x86::AmdIommuLayout::kBytes, nullptr, 0).is_ok());
  BOOST_TEST(model.reg[v::mmio::kControl] == (v::control::kIommuEn | v::control::kHtTunEn | v::control::kEventLogEn |
                                              v::control::kCmdBufEn | v::control::kCoherent));
}

BOOST_FIXTURE_TEST_CASE(without_invalidate_all_every_dte_is_invalidated, Fixture) {
  model.reg[v::mmio::kExtFeature] = 0;  // no EFR.IASup (and the capability says an EFR exists: 0 is refused)
  Status st = enable();
  BOOST_TEST(st.code() == Err::malformed);
  model.reg[v::mmio::kExtFeature] = v::ext_feature::kPprSup;
  x86::AmdIommu again{io, ram, &model};
  st = again.enable(kRegion, x86::AmdIommuLayout::kBytes, nullptr, 0);
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(model.count(v::kInvalidateDevTabEntry) == 65536u);
  BOOST_TEST(model.count(v::kInvalidateIommuAll) == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_dma_write_to_the_table_before_the_enable_is_detected, Fixture) {
  bool attacked = false;
  model.before_write = [&](uint32_t off, uint32_t val) {
    // The table is written, translation not yet on (the write that sets IommuEn):
    // a bus master zeroes edu's DTE (V = 0: its requests are not translated, full access).
    if (off == v::mmio::kControl && (val & v::control::kIommuEn) && !attacked) {
      const uint64_t open = 0;
      std::memcpy(ram.map(kRegion + uint64_t(kEdu) * 32, 8), &open, 8);
      attacked = true;
    }
  };
  const Status st = enable();
  BOOST_TEST(attacked);
  BOOST_TEST(st.code() == Err::fault);
  BOOST_TEST(std::string(msg(st)) == "AMD-Vi DTE 32 was changed by DMA before the enable");
  BOOST_TEST(!drv.is_protected(0, kPage));
}

BOOST_FIXTURE_TEST_CASE(bad_regions_are_refused, Fixture) {
  BOOST_TEST(drv.enable(kRegion + 0x800, x86::AmdIommuLayout::kBytes, nullptr, 0).code() == Err::malformed);
  BOOST_TEST(drv.enable(kRegion, 128 * 1024, nullptr, 0).code() == Err::malformed);  // the DEV's 128 KiB is not enough
  const x86::PhysRange slb{kRegion + 0x10000, 0x10000};
  BOOST_TEST(drv.enable(kRegion, x86::AmdIommuLayout::kBytes, &slb, 1).code() == Err::malformed);
  BOOST_TEST(drv.enable(kRam - kPage, x86::AmdIommuLayout::kBytes, nullptr, 0).code() == Err::fault);  // outside RAM
  BOOST_TEST(!model.on());
}

BOOST_FIXTURE_TEST_CASE(grant_opens_exactly_the_granted_pages_to_that_device, Fixture) {
  BOOST_TEST_REQUIRE(enable().is_ok());
  BOOST_TEST_REQUIRE(drv.set_page_table_pool(kPool, 8 * kPage).is_ok());
  const uint64_t window = 0xA00000;
  Status st = drv.grant(kEdu, window, window, 2 * kPage, true, true);
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  const uint64_t ro = 0x3FF000;  // another 1 GiB-table path: read only, iova != pa
  st = drv.grant(kEdu, 0x0000'7000'0000'0000ull, ro, kPage, true, false);
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  for (bool w : {false, true}) {
    uint64_t to = 0;
    BOOST_TEST(model.dma_ok(kEdu, window, w, &to));
    BOOST_TEST(to == window);
    BOOST_TEST(model.dma_ok(kEdu, window + kPage + 0xFFF, w, &to));
    BOOST_TEST(to == window + kPage + 0xFFF);
    BOOST_TEST(!model.dma_ok(kEdu, window - 1, w));
    BOOST_TEST(!model.dma_ok(kEdu, window + 2 * kPage, w));
    BOOST_TEST(!model.dma_ok(kEdu + 1, window, w));  // 00:04.1: another device
    BOOST_TEST(!model.dma_ok(0, window, w));
    BOOST_TEST(!model.dma_ok(kEdu, ro, w));          // granted at its iova only
  }
  uint64_t to = 0;
  BOOST_TEST(model.dma_ok(kEdu, 0x0000'7000'0000'0123ull, false, &to));
  BOOST_TEST(to == ro + 0x123);
  BOOST_TEST(!model.dma_ok(kEdu, 0x0000'7000'0000'0000ull, true));
  // The edu DTE: a 4-level table, its own domain; the invalidations the spec asks for.
  const uint64_t d0 = ram.q(kRegion + uint64_t(kEdu) * 32);
  BOOST_TEST(((d0 >> 9) & 7) == 4u);
  BOOST_TEST(ram.q(kRegion + uint64_t(kEdu) * 32 + 8) == uint64_t(kEdu) + 1);
  BOOST_TEST(model.count(v::kInvalidateDevTabEntry) == 2u);
  BOOST_TEST(model.count(v::kInvalidateIommuPages) == 2u);
  // 4 tables for the first grant, 3 more for the second (it shares only the root).
  st = drv.grant(kEdu, 0x1000'0000'0000ull, 0xB00000, 10 * kPage, true, true);
  BOOST_TEST(st.code() == Err::unsupported, msg(st));  // 8 pages of pool, 7 used, this needs 3: exhausted
  BOOST_TEST(!drv.is_protected(window + kPage, 1));
  BOOST_TEST(drv.is_protected(window + 2 * kPage, kPage));
  BOOST_TEST(drv.protect(window, kPage).code() == Err::internal);
  BOOST_TEST(drv.grant(kEdu, kRegion, kRegion, kPage, true, true).code() == Err::malformed);  // its own tables: never
  BOOST_TEST(drv.grant(kEdu, window + 1, window, kPage, true, true).code() == Err::malformed);
}

BOOST_FIXTURE_TEST_CASE(attach_takes_over_and_checks_the_table, Fixture) {
  BOOST_TEST_REQUIRE(enable().is_ok());
  x86::AmdDev no_dev{io, ram};  // the model's bus has no DEV at 00:18.3
  x86::AmdIommu later{io, ram, &model};
  x86::DmaProtectionSelector sel{no_dev, later};
  Status st = sel.attach();
  BOOST_TEST_REQUIRE(st.is_ok(), msg(st));
  BOOST_TEST(std::string(sel.name()) == "AMD-Vi");
  BOOST_TEST(sel.is_protected(0, kRam));
  // A later stage can issue commands on the same ring.
  BOOST_TEST(later.invalidate_all().is_ok());
  BOOST_TEST(model.count(v::kCompletionWait) == 2u);

  const uint64_t open = 0;  // V = 0
  std::memcpy(ram.map(kRegion + 0x1234 * 32, 8), &open, 8);
  x86::AmdIommu third{io, ram, &model};
  st = third.attach();
  BOOST_TEST(st.code() == Err::fault);
  BOOST_TEST(std::string(msg(st)).find("AMD-Vi: DTE 4660 (12:06.4) does not block") == 0, msg(st));
  model.reg[v::mmio::kControl] = 0;
  x86::AmdIommu fourth{io, ram, &model};
  BOOST_TEST(std::string(msg(fourth.attach())) == "AMD-Vi: not enabled (control 0x0)");
}

BOOST_FIXTURE_TEST_CASE(the_event_log_is_read_and_consumed, Fixture) {
  BOOST_TEST_REQUIRE(enable().is_ok());
  const uint64_t log = kRegion + x86::AmdIommuLayout::kEventLog;
  // §2.5 IO_PAGE_FAULT: edu, a write (RW), permission denied (PR, PE), at 0x4600000.
  const uint64_t flags = v::event::kFlagRw | v::event::kFlagPr | v::event::kFlagPe;
  const uint64_t e0[2] = {(uint64_t(v::kIoPageFault) << 60) | (flags << 48) | kEdu, 0x4600000};
  const uint64_t e1[2] = {(uint64_t(v::kIllegalDevTableEntry) << 60) | 0x0100, 0};
  std::memcpy(ram.map(log, 16), e0, 16);
  std::memcpy(ram.map(log + 16, 16), e1, 16);
  model.reg[v::mmio::kEventLogTail] = 32;
  v::Event ev[4];
  BOOST_TEST_REQUIRE(drv.read_events(ev, 4) == 2u);
  BOOST_TEST(v::event::code(ev[0]) == v::kIoPageFault);
  BOOST_TEST(v::event::device_id(ev[0]) == kEdu);
  BOOST_TEST(v::event::address(ev[0]) == 0x4600000u);
  BOOST_TEST(v::event::flags(ev[0]) == (v::event::kFlagRw | v::event::kFlagPr | v::event::kFlagPe));
  BOOST_TEST(v::event::code(ev[1]) == v::kIllegalDevTableEntry);
  BOOST_TEST(v::event::device_id(ev[1]) == 0x100u);
  BOOST_TEST(model.reg[v::mmio::kEventLogHead] == 32u);
  BOOST_TEST(drv.read_events(ev, 4) == 0u);
  BOOST_TEST(!drv.event_overflow());
}
