// The simulated AMD-Vi (platform/sim/devices/amd_iommu*), by its registers and
// in-memory structures, as spec 48882 lays them out: PCI capability (§3.2), MMIO
// (§3.4), device table entries (§2.2.2.1), host page tables of every mode
// (§2.2.3: permissions, level skipping, larger pages), the event log (§2.5), the
// command buffer (§2.4), and caches that stay stale until invalidated.
#define BOOST_TEST_MODULE sim_amd_iommu
#include <boost/test/unit_test.hpp>

#include "arch/x86/pci.hpp"
#include "tests/platform/sim/devices/iommu_rig.hpp"

using namespace iommutest;

namespace {
constexpr uint16_t kDev = 0x0123;  // 01:04.3
constexpr uint64_t kPageA = 0x1000000, kPageB = 0x1001000;
constexpr uint32_t kPr = v::event::kFlagPr, kPe = v::event::kFlagPe, kRwF = v::event::kFlagRw;
}  // namespace

BOOST_AUTO_TEST_CASE(the_pci_function_carries_the_iommu_capability_block) {
  Rig rig;
  sim::AmdIommu& d = rig.iommu;
  BOOST_TEST(d.config_read(0x00) == 0x14191022u);
  BOOST_TEST(d.config_read(0x08) == 0x08060000u);          // class 08h, subclass 06h (§3.1)
  BOOST_TEST(((d.config_read(0x04) >> 16) & 0x10) == 0x10u);  // capability list
  BOOST_TEST(d.config_read(0x34) == 0x40u);
  // ID 0Fh, next 0, type 011b, rev 1, EFRSup, CapExt; no NpCache (not-present entries never cached).
  BOOST_TEST(d.config_read(0x40) == (0x0Fu | (3u << 16) | (1u << 19) | (1u << 27) | (1u << 28)));
  BOOST_TEST(d.config_read(0x44) == 0xFED80001u);  // base[31:14] | Enable
  BOOST_TEST(d.config_read(0x48) == 0u);
  d.config_write(0x44, 0x12340000, 0xF);  // locked by Enable
  BOOST_TEST(d.config_read(0x44) == 0xFED80001u);
  BOOST_TEST(d.config_read(0x50) == ((52u << 8) | (64u << 15)));
  BOOST_TEST(d.mmio_read(v::mmio::kExtFeature, 8) == (v::ext_feature::kIaSup | v::ext_feature::kHats6Levels));
}

BOOST_AUTO_TEST_CASE(registers_keep_their_defined_bits_and_status_is_rw1c) {
  Rig rig;
  rig.set_reg(v::mmio::kDevTableBase, 0xFFFF'FFFF'FFFF'FFFFull);
  BOOST_TEST(rig.reg(v::mmio::kDevTableBase) == 0x000F'FFFF'FFFF'F1FFull);
  rig.iommu.mmio_write(v::mmio::kCmdBufBase, 4, 0x00602ABCu);  // low dword, then high
  rig.iommu.mmio_write(v::mmio::kCmdBufBase + 4, 4, 0x09000000u);
  BOOST_TEST(rig.reg(v::mmio::kCmdBufBase) == 0x0900'0000'0060'2000ull);
  BOOST_TEST(rig.iommu.mmio_read(v::mmio::kCmdBufBase + 4, 4) == 0x09000000u);
  rig.set_reg(v::mmio::kCmdBufHead, 0xFFFFFFFF);
  BOOST_TEST(rig.reg(v::mmio::kCmdBufHead) == 0x7FFF0u);  // [18:4]
  rig.set_reg(v::mmio::kCmdBufHead, 0);
  rig.set_reg(v::mmio::kExtFeature, 0);
  BOOST_TEST(rig.reg(v::mmio::kExtFeature) != 0u);  // read-only
  rig.iommu.mmio_write(v::mmio::kControl, 2, 0xFFFF);  // narrow writes are dropped
  BOOST_TEST(rig.reg(v::mmio::kControl) == 0u);
  // Status: nothing running while off; EventLogRun and CmdBufRun once on.
  BOOST_TEST(rig.reg(v::mmio::kStatus) == 0u);
  rig.enable();
  BOOST_TEST(rig.reg(v::mmio::kStatus) == (v::status::kEventLogRun | v::status::kCmdBufRun));
  rig.submit({{(uint64_t(v::kCompletionWait) << 60) | v::cmd::kWaitInterrupt, 0}});
  BOOST_TEST(rig.reg(v::mmio::kStatus) == (v::status::kEventLogRun | v::status::kCmdBufRun | v::status::kComWaitInt));
  rig.set_reg(v::mmio::kStatus, v::status::kComWaitInt | v::status::kEventLogRun);  // RW1C; Run bits read-only
  BOOST_TEST(rig.reg(v::mmio::kStatus) == (v::status::kEventLogRun | v::status::kCmdBufRun));
}

BOOST_AUTO_TEST_CASE(off_the_iommu_passes_everything_and_v0_passes_untranslated) {
  Rig rig;
  BOOST_TEST(rig.write(kDev, kPageA, 0x11));  // IommuEn = 0
  BOOST_TEST(rig.r64(kPageA) == 0x1111111111111111ull);
  rig.enable();
  BOOST_TEST(rig.write(kDev, kPageA, 0x22));  // all-zero DTE: V = 0, no translation (§2.2.2.1)
  BOOST_TEST(rig.r64(kPageA) == 0x2222222222222222ull);
  BOOST_TEST(rig.events().empty());
  BOOST_TEST(rig.iommu.stats().translations == 1u);
}

BOOST_AUTO_TEST_CASE(the_blocking_dte_aborts_reads_and_writes_with_io_page_faults) {
  Rig rig;
  rig.enable();
  rig.dte(kDev, v::kBlockingDte.q[0], 0x55);  // DomainID 55h
  rig.w64(kPageA, 0xABCD);
  std::vector<uint8_t> got;
  BOOST_TEST(!rig.read(kDev, kPageA + 0x10, &got));
  BOOST_TEST(got == std::vector<uint8_t>(8, 0));
  BOOST_TEST(!rig.write(kDev, kPageB, 0xEE));
  BOOST_TEST(rig.r64(kPageB) == 0u);
  const auto ev = rig.events();
  BOOST_TEST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(v::event::code(ev[0]) == v::kIoPageFault);
  BOOST_TEST(v::event::device_id(ev[0]) == kDev);
  BOOST_TEST(v::event::domain_id(ev[0]) == 0x55u);
  BOOST_TEST(v::event::address(ev[0]) == kPageA + 0x10);
  BOOST_TEST(v::event::flags(ev[0]) == (kPr | kPe));
  BOOST_TEST(v::event::flags(ev[1]) == (kPr | kPe | kRwF));
  BOOST_TEST(v::event::address(ev[1]) == kPageB);
  BOOST_TEST(rig.port.faults().size() == 2u);
  BOOST_TEST(rig.port.faults()[1].device_id == kDev);
  BOOST_TEST(rig.port.faults()[1].by == sim::DmaBlocker::iommu);
  // Another device is not affected by this DTE (its own, V = 0, passes).
  BOOST_TEST(rig.read(kDev + 1, kPageA));
  // IR only: reads pass (Mode 0, untranslated), writes fault.
  rig.dte(0x200, v::dte::kV | v::dte::kTv | v::dte::kIr);
  BOOST_TEST(rig.read(0x200, kPageA, &got));
  BOOST_TEST(got[0] == 0xCD);
  BOOST_TEST(!rig.write(0x200, kPageA, 1));
  // TV = 0: blocked (fail closed), IO_PAGE_FAULT with PR = 0.
  rig.dte(0x300, v::dte::kV | v::dte::kIr | v::dte::kIw);
  BOOST_TEST(!rig.read(0x300, kPageA));
  // SA: blocked, no event.
  rig.dte(0x301, v::kBlockingDte.q[0], v::dte::kSa);
  BOOST_TEST(!rig.read(0x301, kPageA));
  const auto ev2 = rig.events();
  BOOST_TEST_REQUIRE(ev2.size() == 2u);
  BOOST_TEST(v::event::device_id(ev2[0]) == 0x200u);
  BOOST_TEST(v::event::flags(ev2[0]) == (kPr | kPe | kRwF));
  BOOST_TEST(v::event::device_id(ev2[1]) == 0x300u);
  BOOST_TEST(v::event::flags(ev2[1]) == 0u);
}

BOOST_AUTO_TEST_CASE(a_four_level_table_translates_and_ands_the_permissions) {
  Rig rig;
  rig.enable();
  const uint64_t root = rig.new_table();
  const uint64_t iova = 0x0000'1234'5678'9000ull;
  rig.map(root, 4, iova, kPageA, kRw);
  rig.map(root, 4, iova + 0x1000, kPageB, kIr);                   // read-only page
  rig.map(root, 4, 0x0000'7000'0000'0000ull, kPageB, kRw, 1, kIr);  // read-only directory above a RW page
  rig.dte(kDev, Rig::dte_q0(4, root), 7);
  rig.w64(kPageA + 0x18, 0x1122334455667788ull);
  std::vector<uint8_t> got;
  BOOST_TEST(rig.read(kDev, iova + 0x18, &got));
  BOOST_TEST(got == (std::vector<uint8_t>{0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}));
  BOOST_TEST(rig.write(kDev, iova + 0xFF8, 0x5A));
  BOOST_TEST(rig.r64(kPageA + 0xFF8) == 0x5A5A5A5A5A5A5A5Aull);
  // An access across the two pages is checked page by page: the second page refuses a write,
  // so nothing of it is written.
  BOOST_TEST(!rig.write(kDev, iova + 0xFFC, 0x77));
  BOOST_TEST(rig.r64(kPageA + 0xFF8) == 0x5A5A5A5A5A5A5A5Aull);
  BOOST_TEST(rig.read(kDev, iova + 0x1000));
  BOOST_TEST(!rig.write(kDev, 0x0000'7000'0000'0000ull, 1));  // the directory's IW = 0 wins
  BOOST_TEST(rig.read(kDev, 0x0000'7000'0000'0000ull));
  BOOST_TEST(!rig.read(kDev, iova + 0x2000));                  // not present
  BOOST_TEST(!rig.read(kDev, 0x0001'0000'0000'0000ull));        // bit 48: beyond Mode 4
  const auto ev = rig.events();
  BOOST_TEST_REQUIRE(ev.size() == 4u);
  BOOST_TEST(v::event::address(ev[0]) == iova + 0x1000);  // the first blocked page of the straddling write
  BOOST_TEST(v::event::flags(ev[0]) == (kPr | kPe | kRwF));
  BOOST_TEST(v::event::domain_id(ev[0]) == 7u);
  BOOST_TEST(v::event::flags(ev[1]) == (kPr | kPe | kRwF));
  BOOST_TEST(v::event::flags(ev[2]) == 0u);  // PR = 0: not present
  BOOST_TEST(v::event::address(ev[3]) == 0x0001'0000'0000'0000ull);
  BOOST_TEST(v::event::flags(ev[3]) == 0u);
}

BOOST_AUTO_TEST_CASE(every_mode_from_1_to_6_translates_its_address_width) {
  for (uint32_t mode = 1; mode <= 6; ++mode) {
    Rig rig;
    rig.enable();
    const uint64_t root = rig.new_table();
    // The highest page the mode can translate (all index bits of every level set).
    const uint64_t top = v::mode_va_bits(mode) >= 64 ? ~0ull : (1ull << v::mode_va_bits(mode)) - 1;
    const uint64_t iova = top & ~0xFFFull;
    rig.map(root, mode, iova, kPageA + 0x3000, kRw);
    rig.dte(kDev, Rig::dte_q0(mode, root), mode);
    rig.w64(kPageA + 0x3FF8, 0xC0DE0000 + mode);
    std::vector<uint8_t> got;
    BOOST_TEST(rig.read(kDev, iova + 0xFF8, &got), "mode " << mode);
    uint64_t val;
    std::memcpy(&val, got.data(), 8);
    BOOST_TEST(val == 0xC0DE0000u + mode, "mode " << mode);
    if (mode < 6) BOOST_TEST(!rig.read(kDev, iova + 0x1000), "mode " << mode);  // one page above: too wide
    BOOST_TEST(rig.iommu.stats().walks == 1u);
  }
}

BOOST_AUTO_TEST_CASE(skipped_levels_need_zero_address_bits) {
  Rig rig;
  rig.enable();
  const uint64_t root = rig.new_table(), l1 = rig.new_table();
  // Mode 4, the root entry names a level-1 table directly (levels 3 and 2 skipped, §2.2.3).
  rig.w64(root + 8 * 5, l1 | (1ull << 9) | kRw | v::pte::kPr);
  rig.w64(l1 + 8 * 2, kPageA | kRw | v::pte::kPr);
  rig.dte(kDev, Rig::dte_q0(4, root));
  const uint64_t iova = (5ull << 39) | (2ull << 12);
  rig.w64(kPageA, 0x51);
  std::vector<uint8_t> got;
  BOOST_TEST(rig.read(kDev, iova, &got));
  BOOST_TEST(got[0] == 0x51);
  BOOST_TEST(!rig.read(kDev, iova | (1ull << 30)));  // a level-3 index bit set
  BOOST_TEST(!rig.read(kDev, iova | (1ull << 21)));  // a level-2 index bit set
  // NextLevel not below the entry's level is a fault.
  rig.w64(root + 8 * 6, l1 | (4ull << 9) | kRw | v::pte::kPr);
  BOOST_TEST(!rig.read(kDev, 6ull << 39));
  BOOST_TEST(rig.events().size() == 3u);
}

BOOST_AUTO_TEST_CASE(larger_pages_by_next_level_0_and_by_the_page_size_encoding) {
  Rig rig;
  rig.enable();
  const uint64_t root = rig.new_table();
  // A 2 MiB page: a level-2 entry with NextLevel 0.
  rig.map(root, 3, 0x4000'0000ull, 0x800000, kRw, 2);
  // A 32 KiB page: a level-1 entry with NextLevel 7 and address bits 13:12 = 11b (§2.2.3).
  const uint64_t leaf = rig.map(root, 3, 0x1000'0000ull, 0x1010000, kRw);
  rig.w64(leaf, 0x1010000 | 0x3000 | (7ull << 9) | kRw | v::pte::kPr);
  rig.dte(kDev, Rig::dte_q0(3, root));
  rig.w64(0x800000 + 0x1F'F000, 0x2222);
  rig.w64(0x1010000 + 0x7008, 0x3333);
  std::vector<uint8_t> got;
  BOOST_TEST(rig.read(kDev, 0x4000'0000ull + 0x1F'F000, &got));
  BOOST_TEST(got[0] == 0x22);
  BOOST_TEST(!rig.read(kDev, 0x4000'0000ull + 0x20'0000));  // the next 2 MiB: not mapped
  // The 32 KiB page answers for its first 4 KiB slot's iova; base and offset come from the entry.
  BOOST_TEST(rig.read(kDev, 0x1000'0000ull + 0x7008, &got) == false);  // slot 7 holds no entry
  rig.w64(leaf + 8 * 7, rig.r64(leaf));                               // the entry, replicated (§2.2.3)
  BOOST_TEST(rig.read(kDev, 0x1000'0000ull + 0x7008, &got));
  BOOST_TEST(got[0] == 0x33);
  // An encoding of 2 MiB in a level-1 entry is not a size level 1 can hold.
  rig.w64(leaf + 8 * 8, 0x1010000 | 0xFF000 | (7ull << 9) | kRw | v::pte::kPr);
  BOOST_TEST(!rig.read(kDev, 0x1000'0000ull + 0x8000));
  // Reserved bits 58:52 set: IO_PAGE_FAULT with RZ.
  rig.w64(leaf + 8 * 9, kPageB | (1ull << 55) | kRw | v::pte::kPr);
  BOOST_TEST(!rig.read(kDev, 0x1000'0000ull + 0x9000));
  auto ev = rig.events();
  BOOST_TEST_REQUIRE(ev.size() == 4u);
  BOOST_TEST(v::event::flags(ev[3]) == (kPr | v::event::kFlagRz));
}

BOOST_AUTO_TEST_CASE(illegal_device_table_entries_and_device_ids_beyond_the_table) {
  Rig rig;
  rig.enable();
  rig.set_reg(v::mmio::kDevTableBase, kDevTable | 0);  // one page: DeviceIDs 0..127
  rig.dte(5, v::dte::kV | v::dte::kTv | (7ull << 9) | v::dte::kIr);  // Mode 111b is reserved
  BOOST_TEST(!rig.read(5, kPageA));
  BOOST_TEST(!rig.write(128, kPageA, 1));  // beyond the table
  BOOST_TEST(rig.read(127, kPageA));       // the last entry in it (V = 0)
  const auto ev = rig.events();
  BOOST_TEST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(v::event::code(ev[0]) == v::kIllegalDevTableEntry);
  BOOST_TEST(v::event::device_id(ev[0]) == 5u);
  BOOST_TEST(v::event::address(ev[0]) == kPageA);
  BOOST_TEST(v::event::code(ev[1]) == v::kIllegalDevTableEntry);
  BOOST_TEST(v::event::device_id(ev[1]) == 128u);
  BOOST_TEST(v::event::flags(ev[1]) == kRwF);
}

BOOST_AUTO_TEST_CASE(a_full_event_log_overflows_and_drops) {
  Rig rig;
  rig.enable();
  rig.dte(kDev, v::kBlockingDte.q[0]);
  for (int i = 0; i < 256; ++i) BOOST_TEST(!rig.read(kDev, kPageA + 0x1000 * i));
  // 256 entries hold 255 events (tail may not reach head); the 256th sets EventOverflow.
  BOOST_TEST(rig.reg(v::mmio::kEventLogTail) == 255u * 16);
  BOOST_TEST((rig.reg(v::mmio::kStatus) & v::status::kEventOverflow) != 0u);
  BOOST_TEST((rig.reg(v::mmio::kStatus) & v::status::kEventLogRun) == 0u);
  BOOST_TEST(rig.iommu.stats().events_logged == 255u);
  BOOST_TEST(rig.iommu.stats().events_dropped == 1u);
  const auto ev = rig.events();
  BOOST_TEST(ev.size() == 255u);
  BOOST_TEST(v::event::address(ev[254]) == kPageA + 0x1000 * 254);
  rig.set_reg(v::mmio::kStatus, v::status::kEventOverflow);
  BOOST_TEST(!rig.read(kDev, 0x2000000));
  BOOST_TEST(rig.events().size() == 1u);
}

BOOST_AUTO_TEST_CASE(commands_complete_in_order_and_an_illegal_one_stops_the_buffer) {
  Rig rig;
  rig.enable();
  rig.submit(v::cmd::completion_wait(kWait, 0x1234));
  BOOST_TEST(rig.r64(kWait) == 0x1234u);
  BOOST_TEST(rig.reg(v::mmio::kCmdBufHead) == 16u);
  // A reserved opcode (0Fh): ILLEGAL_COMMAND_ERROR naming the command's address; the head stays.
  rig.submit({{0xFull << 60, 0}});
  rig.submit(v::cmd::completion_wait(kWait, 0x5678));
  BOOST_TEST(rig.r64(kWait) == 0x1234u);
  BOOST_TEST(rig.reg(v::mmio::kCmdBufHead) == 16u);
  BOOST_TEST((rig.reg(v::mmio::kStatus) & v::status::kCmdBufRun) == 0u);
  auto ev = rig.events();
  BOOST_TEST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(v::event::code(ev[0]) == v::kIllegalCommandError);
  BOOST_TEST(v::event::address(ev[0]) == kCmd + 16);
  // Software replaces the command and restarts the processor (CmdBufEn 0 -> 1).
  const v::Command inv = v::cmd::invalidate_dte(3);
  std::memcpy(rig.mem.map(kCmd + 16, 16), inv.q, 16);
  rig.set_reg(v::mmio::kControl, v::control::kIommuEn | v::control::kEventLogEn);
  rig.set_reg(v::mmio::kControl, v::control::kIommuEn | v::control::kEventLogEn | v::control::kCmdBufEn);
  BOOST_TEST(rig.r64(kWait) == 0x5678u);
  BOOST_TEST(rig.reg(v::mmio::kCmdBufHead) == 48u);
  BOOST_TEST(rig.iommu.executed() == (std::vector<uint32_t>{1, 0xF, 2, 1}));
  // Reserved bits of a known command are illegal too.
  rig.submit({{(uint64_t(v::kInvalidateDevTabEntry) << 60) | (1ull << 20), 0}});
  BOOST_TEST(v::event::code(rig.events().at(0)) == v::kIllegalCommandError);
}

BOOST_AUTO_TEST_CASE(invalidate_iommu_all_exists_only_with_iasup) {
  Rig rig(sim::AmdIommuConfig{.ext_features = 0});
  rig.enable();
  rig.submit(v::cmd::invalidate_all());
  const auto ev = rig.events();
  BOOST_TEST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(v::event::code(ev[0]) == v::kIllegalCommandError);
}

// IOTLB invalidation when a mapping changes: a page remapped (or unmapped) without
// INVALIDATE_IOMMU_PAGES stays reachable at its old address; the command ends it.
BOOST_AUTO_TEST_CASE(a_changed_leaf_entry_is_stale_until_invalidate_iommu_pages) {
  Rig rig;
  rig.enable();
  const uint64_t root = rig.new_table();
  const uint64_t iova = 0x40'0000;
  const uint64_t leaf = rig.map(root, 4, iova, kPageA, kRw);
  rig.dte(kDev, Rig::dte_q0(4, root), 9);
  BOOST_TEST(rig.write(kDev, iova, 0xA1));  // cached in the IOTLB
  BOOST_TEST(rig.iommu.iotlb_entries() == 1u);
  rig.w64(leaf, kPageB | kRw | v::pte::kPr);  // remapped to B, no invalidation
  BOOST_TEST(rig.write(kDev, iova, 0xA2));
  BOOST_TEST(rig.r64(kPageA) == 0xA2A2A2A2A2A2A2A2ull);  // stale: still A
  BOOST_TEST(rig.r64(kPageB) == 0u);
  rig.submit(v::cmd::invalidate_page(8, iova, false));  // another domain: no effect
  BOOST_TEST(rig.write(kDev, iova, 0xA3));
  BOOST_TEST(rig.r64(kPageA) == 0xA3A3A3A3A3A3A3A3ull);
  rig.submit(v::cmd::invalidate_page(9, iova, false));  // S = 0: this page of domain 9
  BOOST_TEST(rig.write(kDev, iova, 0xA4));
  BOOST_TEST(rig.r64(kPageB) == 0xA4A4A4A4A4A4A4A4ull);
  BOOST_TEST(rig.r64(kPageA) == 0xA3A3A3A3A3A3A3A3ull);
  // Unmapped (PR = 0) without invalidation: the device keeps its access.
  rig.w64(leaf, 0);
  BOOST_TEST(rig.write(kDev, iova, 0xA5));
  BOOST_TEST(rig.r64(kPageB) == 0xA5A5A5A5A5A5A5A5ull);
  // S = 1 with an address encoding a 16 KiB range around the page (bit 12 = 1, bit 13 = 0).
  rig.submit({{(uint64_t(v::kInvalidateIommuPages) << 60) | (9ull << 32), iova | 0x1000 | v::cmd::kPagesS}});
  BOOST_TEST(!rig.write(kDev, iova, 0xA6));
  BOOST_TEST(rig.r64(kPageB) == 0xA5A5A5A5A5A5A5A5ull);
  const auto ev = rig.events();
  BOOST_TEST_REQUIRE(ev.size() == 1u);
  BOOST_TEST(v::event::address(ev[0]) == iova);
  BOOST_TEST(v::event::flags(ev[0]) == kRwF);  // PR = 0
}

BOOST_AUTO_TEST_CASE(a_changed_directory_entry_needs_the_pde_bit) {
  Rig rig;
  rig.enable();
  const uint64_t root = rig.new_table();
  const uint64_t iova = 0x40'0000;
  rig.map(root, 4, iova, kPageA, kRw);
  rig.dte(kDev, Rig::dte_q0(4, root), 9);
  BOOST_TEST(rig.write(kDev, iova, 0xB1));
  BOOST_TEST(rig.iommu.pde_cache_entries() == 3u);  // levels 4, 3, 2
  // The root's entry is cut (the whole 512 GiB below it unmapped), no invalidation.
  rig.w64(root, 0);
  rig.submit(v::cmd::invalidate_page(9, iova, false));  // leaf only: the cached PDEs still lead to A
  BOOST_TEST(rig.write(kDev, iova, 0xB2));
  BOOST_TEST(rig.r64(kPageA) == 0xB2B2B2B2B2B2B2B2ull);
  rig.submit(v::cmd::invalidate_domain_pages(9));  // S = 1, all pages, PDE = 1
  BOOST_TEST(rig.iommu.pde_cache_entries() == 0u);
  BOOST_TEST(!rig.write(kDev, iova, 0xB3));
  BOOST_TEST(rig.r64(kPageA) == 0xB2B2B2B2B2B2B2B2ull);
}

BOOST_AUTO_TEST_CASE(a_changed_dte_is_stale_until_invalidate_devtab_entry) {
  Rig rig;
  rig.enable();
  BOOST_TEST(rig.write(kDev, kPageA, 0xC1));  // V = 0: pass-through, and the DTE is cached
  rig.dte(kDev, v::kBlockingDte.q[0]);
  BOOST_TEST(rig.write(kDev, kPageA, 0xC2));  // stale: still V = 0
  BOOST_TEST(rig.r64(kPageA) == 0xC2C2C2C2C2C2C2C2ull);
  rig.submit(v::cmd::invalidate_dte(kDev + 1));  // not this one
  BOOST_TEST(rig.write(kDev, kPageA, 0xC3));
  rig.submit(v::cmd::invalidate_dte(kDev));
  BOOST_TEST(!rig.write(kDev, kPageA, 0xC4));
  BOOST_TEST(rig.r64(kPageA) == 0xC3C3C3C3C3C3C3C3ull);
  // INVALIDATE_IOMMU_ALL empties every cache.
  rig.dte(kDev, 0);
  BOOST_TEST(!rig.write(kDev, kPageA, 0xC5));
  rig.submit(v::cmd::invalidate_all());
  BOOST_TEST(rig.iommu.dte_cache_entries() == 0u);
  BOOST_TEST(rig.write(kDev, kPageA, 0xC6));
}

BOOST_AUTO_TEST_CASE(the_exclusion_range_bypasses_translation) {
  Rig rig;
  rig.enable();
  rig.dte(kDev, v::kBlockingDte.q[0]);
  rig.dte(kDev + 1, v::kBlockingDte.q[0], v::dte::kEx);
  rig.set_reg(v::mmio::kExclusionBase, kPageA | v::exclusion::kExEn);
  rig.set_reg(v::mmio::kExclusionLimit, kPageA);  // one page: [A, A + 0FFFh]
  BOOST_TEST(!rig.write(kDev, kPageA, 1));          // EX = 0, Allow = 0
  BOOST_TEST(rig.write(kDev + 1, kPageA + 0xFF8, 2));  // EX = 1
  BOOST_TEST(!rig.write(kDev + 1, kPageB, 3));      // outside the range
  rig.set_reg(v::mmio::kExclusionBase, kPageA | v::exclusion::kExEn | v::exclusion::kAllow);
  BOOST_TEST(rig.write(kDev, kPageA, 4));  // Allow: every device
  BOOST_TEST(rig.r64(kPageA) == 0x0404040404040404ull);
}
