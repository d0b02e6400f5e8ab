// The AMD I/O Virtualization Technology (IOMMU, "AMD-Vi"), AMD publication
// 48882 "AMD I/O Virtualization Technology (IOMMU) Specification" (rev 3.x):
// the PCI capability block that names the MMIO window (§3.2), the MMIO
// registers (§3.4), the device table (§2.2.2), host I/O page tables (§2.2.3),
// the command buffer (§2.4) and the event log (§2.5). Section numbers are
// the spec's; each rule below names its section (and MMIO offset where there
// is one). Pure data: no code, no I/O.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>

namespace redoubt::arch::amd_iommu {

// ---- PCI capability block (§3.2: capability header, base address low/high) ----
inline constexpr uint8_t kCapId = 0x0F;          // §3.2: CapID 0Fh ("Secure Device"; also the DEV's)
inline constexpr uint8_t kCapTypeIommu = 0x3;    // §3.2: CapType [18:16] = 011b: IOMMU
inline constexpr uint8_t kCapTypeShift = 16;
inline constexpr uint8_t kCapHeader = 0x0;       // id[7:0] next[15:8] type[18:16] rev[23:19] flags[31:24]
inline constexpr uint8_t kCapBaseLow = 0x4;      // §3.2: Base Address Low: addr[31:14], Enable [0]
inline constexpr uint8_t kCapBaseHigh = 0x8;     // §3.2: Base Address High: addr[63:32]
inline constexpr uint8_t kCapRange = 0xC;        // §3.2: the bus/device range the IOMMU serves
inline constexpr uint32_t kCapBaseLowEnable = 1u << 0;      // §3.2: the MMIO window is enabled (and locked)
inline constexpr uint32_t kCapBaseLowAddrMask = 0xFFFFC000u;  // §3.2: 16 KiB aligned
inline constexpr uint32_t kCapHeaderEfrSup = 1u << 27;       // §3.2: EFRSup: the Extended Feature Register exists
inline constexpr uint32_t kCapHeaderHtTunnel = 1u << 25;     // §3.2: HtTunnel: HyperTransport tunnel translation supported
inline constexpr uint32_t kCapHeaderIotlbSup = 1u << 24;     // §3.2: IotlbSup: remote IOTLBs (ATS) supported
inline constexpr uint32_t kCapHeaderNpCache = 1u << 26;      // §3.2: NpCache: not-present entries may be cached
inline constexpr uint32_t kCapHeaderCapExt = 1u << 28;       // §3.2: CapExt: the misc. information register exists
inline constexpr uint32_t kCapRevShift = 19;                 // §3.2: CapRev [23:19]
inline constexpr uint32_t kCapRev = 1;                       // §3.2: revision 00001b
inline constexpr uint8_t kCapMisc = 0x10;        // §3.2: Misc Information 0: MsiNum[4:0] GVAsize[7:5] PAsize[14:8] VAsize[21:15]
inline constexpr uint32_t kMiscPaSizeShift = 8;
inline constexpr uint32_t kMiscVaSizeShift = 15;
inline constexpr uint32_t kClassCode = 0x080600;  // §3.1: class 08h (base system peripheral), subclass 06h (IOMMU), PI 00h
inline constexpr uint64_t kMmioAlign = 16 * 1024;
inline constexpr uint64_t kMmioSize = 16 * 1024;            // §3.4: the window is 16 KiB

// ---- MMIO registers (§3.4), offsets from the base; all 64-bit ----
namespace mmio {
inline constexpr uint32_t kDevTableBase = 0x0000;  // §3.4, MMIO 0000h: DevTabBase[51:12], Size[8:0]
inline constexpr uint32_t kCmdBufBase = 0x0008;    // §3.4, MMIO 0008h: ComBase[51:12], ComLen[59:56]
inline constexpr uint32_t kEventLogBase = 0x0010;  // §3.4, MMIO 0010h: EventBase[51:12], EventLen[59:56]
inline constexpr uint32_t kControl = 0x0018;       // §3.4, MMIO 0018h: IOMMU Control
inline constexpr uint32_t kExclusionBase = 0x0020; // §3.4, MMIO 0020h: ExBase[51:12], Allow [1], ExEn [0]
inline constexpr uint32_t kExclusionLimit = 0x0028;// §3.4, MMIO 0028h: ExLimit[51:12]
inline constexpr uint32_t kExtFeature = 0x0030;    // §3.4, MMIO 0030h: Extended Feature Register (read-only)
inline constexpr uint32_t kCmdBufHead = 0x2000;    // §3.4, MMIO 2000h: CmdHdPtr[18:4]
inline constexpr uint32_t kCmdBufTail = 0x2008;    // §3.4, MMIO 2008h: CmdTailPtr[18:4]
inline constexpr uint32_t kEventLogHead = 0x2010;  // §3.4, MMIO 2010h: EventHdPtr[18:4]
inline constexpr uint32_t kEventLogTail = 0x2018;  // §3.4, MMIO 2018h: EventTailPtr[18:4]
inline constexpr uint32_t kStatus = 0x2020;        // §3.4, MMIO 2020h: IOMMU Status
static_assert(kStatus + 8 <= kMmioSize);
}  // namespace mmio

// §3.4: Size = number of 4 KiB pages of the table minus 1 (up to 1FFh: 2 MiB, 64 Ki entries).
namespace dev_table_base {
inline constexpr uint64_t kSizeMask = 0x1FF;
inline constexpr uint64_t kAddrMask = 0x000FFFFFFFFFF000ull;  // [51:12]
}  // namespace dev_table_base

// §3.4 (MMIO 0008h, 0010h): a ring of 2^Len 16-byte entries; Len 1000b (256 entries, 4 KiB) .. 1111b.
namespace ring_base {
inline constexpr uint64_t kAddrMask = 0x000FFFFFFFFFF000ull;  // [51:12]
inline constexpr uint32_t kLenShift = 56;                     // [59:56]
inline constexpr uint64_t kLenMask = 0xFull << kLenShift;
inline constexpr uint32_t kMinLen = 8;                        // 256 entries
}  // namespace ring_base
inline constexpr uint32_t kRingPtrMask = 0x0007FFF0u;  // §3.4: head/tail pointers [18:4], byte offsets
// §3.4: ring bytes for a Len field (0000b-0111b are reserved; the simulator treats them as 1000b).
constexpr uint32_t ring_bytes(uint64_t base_reg) {
  const uint32_t len = uint32_t((base_reg & ring_base::kLenMask) >> ring_base::kLenShift);
  return (1u << (len < ring_base::kMinLen ? ring_base::kMinLen : len)) * 16;
}
static_assert(ring_bytes(8ull << 56) == 4096 && ring_bytes(0xFull << 56) == 512 * 1024 && ring_bytes(0) == 4096);

// §3.4: IOMMU Control Register bits.
namespace control {
inline constexpr uint64_t kIommuEn = 1ull << 0;       // translation and protection on
inline constexpr uint64_t kHtTunEn = 1ull << 1;       // translate HyperTransport tunnel requests (0: they pass untranslated)
inline constexpr uint64_t kEventLogEn = 1ull << 2;    // write events to the event log
inline constexpr uint64_t kEventIntEn = 1ull << 3;    // interrupt on a new event
inline constexpr uint64_t kComWaitIntEn = 1ull << 4;  // interrupt on COMPLETION_WAIT with I = 1
inline constexpr uint64_t kInvTimeoutShift = 5;       // [7:5] IOTLB invalidation time-out
inline constexpr uint64_t kPassPw = 1ull << 8;
inline constexpr uint64_t kResPassPw = 1ull << 9;
inline constexpr uint64_t kCoherent = 1ull << 10;
inline constexpr uint64_t kIsoc = 1ull << 11;
inline constexpr uint64_t kCmdBufEn = 1ull << 12;     // fetch commands from the command buffer
inline constexpr uint64_t kPprLogEn = 1ull << 13;
inline constexpr uint64_t kPprIntEn = 1ull << 14;
inline constexpr uint64_t kPprEn = 1ull << 15;
inline constexpr uint64_t kGtEn = 1ull << 16;         // guest translation
inline constexpr uint64_t kGaEn = 1ull << 17;         // guest virtual APIC
}  // namespace control

// §3.4: Exclusion Base. With ExEn set, accesses inside [base, limit] bypass
// translation (Allow: for every device) — a hole the SL must close.
namespace exclusion {
inline constexpr uint64_t kExEn = 1ull << 0;
inline constexpr uint64_t kAllow = 1ull << 1;
}  // namespace exclusion

// §3.4: Extended Feature Register bits used here.
namespace ext_feature {
inline constexpr uint64_t kPrefSup = 1ull << 0;
inline constexpr uint64_t kPprSup = 1ull << 1;
inline constexpr uint64_t kXtSup = 1ull << 2;
inline constexpr uint64_t kNxSup = 1ull << 3;
inline constexpr uint64_t kGtSup = 1ull << 4;
inline constexpr uint64_t kIaSup = 1ull << 6;         // INVALIDATE_IOMMU_ALL supported
inline constexpr uint64_t kGaSup = 1ull << 7;
inline constexpr uint64_t kHeSup = 1ull << 8;
inline constexpr uint64_t kPcSup = 1ull << 9;
inline constexpr uint32_t kHatsShift = 10;            // [11:10] host address translation levels: 00b 4, 01b 5, 10b 6
inline constexpr uint64_t kHatsMask = 3ull << kHatsShift;
inline constexpr uint64_t kHats6Levels = 2ull << kHatsShift;  // 10b: host tables of up to 6 levels (Mode 1..6)
}  // namespace ext_feature

// §3.4: IOMMU Status Register.
namespace status {
inline constexpr uint64_t kEventOverflow = 1ull << 0;  // RW1C: the event log overflowed
inline constexpr uint64_t kEventLogInt = 1ull << 1;    // RW1C
inline constexpr uint64_t kComWaitInt = 1ull << 2;     // RW1C: a COMPLETION_WAIT with I = 1 completed
inline constexpr uint64_t kEventLogRun = 1ull << 3;    // RO: the event log is running
inline constexpr uint64_t kCmdBufRun = 1ull << 4;      // RO: the command buffer is running
}  // namespace status

// ---- Device Table (§2.2.2): one 256-bit entry per DeviceID (bus[15:8] dev[7:3] fn[2:0]) ----
inline constexpr uint32_t kDteBytes = 32;
inline constexpr uint32_t kMaxDevices = 65536;
inline constexpr uint64_t kFullDevTableBytes = uint64_t{kMaxDevices} * kDteBytes;  // 2 MiB, Size = 1FFh
static_assert(kFullDevTableBytes == 2u << 20 && (kFullDevTableBytes / 4096 - 1) == dev_table_base::kSizeMask);

// §2.2.2.1 "Device Table Entry Format", as four little-endian quadwords.
struct Dte {
  uint64_t q[4];
};
static_assert(sizeof(Dte) == kDteBytes && offsetof(Dte, q) == 0);

namespace dte {
// Quadword 0 (bits 63:0).
inline constexpr uint64_t kV = 1ull << 0;            // the entry is valid
inline constexpr uint64_t kTv = 1ull << 1;           // the translation fields (Mode, root, IR, IW) are valid
inline constexpr uint32_t kModeShift = 9;            // [11:9] paging mode: 0 = no translation (IR/IW decide),
inline constexpr uint64_t kModeMask = 7ull << kModeShift;  //        1..6 = levels of the host page table
inline constexpr uint64_t kRootMask = 0x000FFFFFFFFFF000ull;  // [51:12] page table root pointer
inline constexpr uint64_t kIr = 1ull << 61;          // DMA read permitted
inline constexpr uint64_t kIw = 1ull << 62;          // DMA write permitted
inline constexpr uint32_t kModeNone = 0;             // 000b: no translation, access controlled by IR/IW
inline constexpr uint32_t kModeReserved = 7;         // 111b: reserved (ILLEGAL_DEV_TABLE_ENTRY)
constexpr uint32_t mode(uint64_t q0) { return uint32_t((q0 & kModeMask) >> kModeShift); }
// Quadword 1 (bits 127:64).
inline constexpr uint64_t kDomainIdMask = 0xFFFF;    // [79:64] DomainID (tags IOTLB / cached translations)
inline constexpr uint64_t kSe = 1ull << 33;          // bit 97: SE, suppress I/O page fault events
inline constexpr uint64_t kSa = 1ull << 34;          // bit 98: SA, suppress all I/O page fault events
inline constexpr uint32_t kIoCtlShift = 35;          // [100:99] port I/O: 00b target abort
inline constexpr uint64_t kEx = 1ull << 39;          // bit 103: exclusion range applies to this device
inline constexpr uint32_t kSysMgtShift = 40;         // [105:104] system management messages: 00b target abort
// Quadword 2 (bits 191:128): interrupt remapping (§2.2.5).
inline constexpr uint64_t kIv = 1ull << 0;           // bit 128: the interrupt fields are valid
inline constexpr uint32_t kIntCtlShift = 60;         // [189:188] IntCtl: 00b target abort fixed/arbitrated interrupts
inline constexpr uint64_t kInitPass = 1ull << 56;    // bit 184
inline constexpr uint64_t kEIntPass = 1ull << 57;    // bit 185
inline constexpr uint64_t kNmiPass = 1ull << 58;     // bit 186
inline constexpr uint64_t kLint0Pass = 1ull << 62;   // bit 190
inline constexpr uint64_t kLint1Pass = 1ull << 63;   // bit 191
}  // namespace dte

// A DTE that blocks the device: valid, translation valid, Mode 0 (no page table)
// with IR = IW = 0 — every DMA read and write is target-aborted (§2.2.2.1, Mode
// 000b: "access permission from IR/IW"); IoCtl / SysMgt 00b abort port I/O and
// system-management requests; IV = 1 with IntCtl 00b and no *Pass bit aborts
// every interrupt request (§2.2.5).
inline constexpr Dte kBlockingDte{{dte::kV | dte::kTv, 0, dte::kIv, 0}};

// ---- Host I/O page tables (§2.2.3): 512 eight-byte entries per 4 KiB table ----
namespace pte {
inline constexpr uint64_t kPr = 1ull << 0;                   // present
inline constexpr uint32_t kNextLevelShift = 9;               // [11:9] 0 = a 4 KiB page (level-1 entry),
inline constexpr uint64_t kNextLevelMask = 7ull << kNextLevelShift;  // 1..6 = the next table's level, 7 = larger page
inline constexpr uint64_t kAddrMask = 0x000FFFFFFFFFF000ull; // [51:12] next table / page address
inline constexpr uint64_t kFc = 1ull << 60;                  // force coherent
inline constexpr uint64_t kIr = 1ull << 61;                  // read permitted (ANDed down the walk)
inline constexpr uint64_t kIw = 1ull << 62;                  // write permitted
inline constexpr uint64_t kReservedMask = 0x07F0000000000000ull;  // [58:52] must be zero (RZ in IO_PAGE_FAULT)
inline constexpr uint32_t kNextLevelPage = 0;                // NextLevel 000b: this entry maps a page of its level's size
inline constexpr uint32_t kNextLevelSized = 7;               // NextLevel 111b: a page whose size the address bits encode
constexpr uint32_t next_level(uint64_t e) { return uint32_t((e & kNextLevelMask) >> kNextLevelShift); }
// §2.2.3 "page size encoding" (NextLevel 7h): the first zero address bit from bit 12 up
// gives the size: 0 at bit 12 = 8 KiB, 10b = 16 KiB, ... (log2 of the size returned).
constexpr uint32_t encoded_page_shift(uint64_t e) {
  return 13 + uint32_t(std::countr_one((e & kAddrMask) >> 12));
}
static_assert(encoded_page_shift(0x4000) == 13 && encoded_page_shift(0x5000) == 14 && encoded_page_shift(0x3000) == 15 && encoded_page_shift(0xFF000) == 21);
}  // namespace pte
inline constexpr uint32_t kEntriesPerTable = 512;
inline constexpr uint32_t kLevels4 = 4;                       // DTE.Mode 100b: 48-bit I/O virtual addresses
// The table index at `level` (1..6) of an I/O virtual address (§2.2.3: 9 bits a level above the 4 KiB offset).
constexpr uint32_t table_index(uint64_t iova, uint32_t level) { return uint32_t(iova >> (12 + 9 * (level - 1))) & 511; }
static_assert(table_index(0x0000'0080'0000'1000ull, 4) == 1 && table_index(0x3000, 1) == 3);
// §2.2.3: log2 of the size an entry at `level` maps (4 KiB at level 1, 2 MiB at 2, 1 GiB at 3, ...).
constexpr uint32_t level_shift(uint32_t level) { return 12 + 9 * (level - 1); }
// §2.2.2.1 Mode 1..6: the I/O virtual address bits a table of that many levels translates
// (21, 30, 39, 48, 57, 64); a higher address bit set is an IO_PAGE_FAULT.
constexpr uint32_t mode_va_bits(uint32_t mode) { return mode >= 6 ? 64 : 12 + 9 * mode; }
static_assert(level_shift(2) == 21 && mode_va_bits(4) == 48 && mode_va_bits(6) == 64);

// ---- Command buffer (§2.4): 16-byte commands, opcode in bits 63:60 of the first quadword ----
inline constexpr uint32_t kCommandBytes = 16;
struct Command {
  uint64_t q[2];
};
static_assert(sizeof(Command) == kCommandBytes);
inline constexpr uint32_t kOpcodeShift = 60;
enum Opcode : uint64_t {
  kCompletionWait = 0x1,       // §2.4 COMPLETION_WAIT
  kInvalidateDevTabEntry = 0x2,// §2.4 INVALIDATE_DEVTAB_ENTRY
  kInvalidateIommuPages = 0x3, // §2.4 INVALIDATE_IOMMU_PAGES
  kInvalidateIotlbPages = 0x4, // §2.4 INVALIDATE_IOTLB_PAGES
  kInvalidateIntTable = 0x5,   // §2.4 INVALIDATE_INTERRUPT_TABLE
  kInvalidateIommuAll = 0x8,   // §2.4 INVALIDATE_IOMMU_ALL (EFR.IASup)
};
namespace cmd {
// §2.4 COMPLETION_WAIT: S [0] store Data at StoreAddr[51:3] when every earlier command completed,
// I [1] interrupt, F [2] flush queue; the 64-bit store data is the second quadword.
inline constexpr uint64_t kWaitStore = 1ull << 0;
inline constexpr uint64_t kWaitInterrupt = 1ull << 1;
inline constexpr uint64_t kWaitFlush = 1ull << 2;
inline constexpr uint64_t kWaitStoreAddrMask = 0x000FFFFFFFFFFFF8ull;
inline constexpr uint64_t kWaitReservedQ0 = 0x0FF0000000000000ull;  // [59:52]
constexpr Command completion_wait(uint64_t store_pa, uint64_t data) {
  return {{(uint64_t{kCompletionWait} << kOpcodeShift) | (store_pa & kWaitStoreAddrMask) | kWaitStore, data}};
}
// §2.4 INVALIDATE_DEVTAB_ENTRY: DeviceID [15:0].
inline constexpr uint64_t kDteReservedQ0 = 0x0FFFFFFFFFFF0000ull;  // [59:16]; the second quadword is reserved
constexpr Command invalidate_dte(uint16_t device_id) {
  return {{(uint64_t{kInvalidateDevTabEntry} << kOpcodeShift) | device_id, 0}};
}
// §2.4 INVALIDATE_IOMMU_PAGES: DomainID [47:32]; S [64] (size: the address encodes the range),
// PDE [65] (also cached page-directory entries), Address[63:12]. S = 1 with address
// 7FFF_FFFF_FFFF_F000h invalidates every page of the domain.
inline constexpr uint64_t kPagesS = 1ull << 0;
inline constexpr uint64_t kPagesPde = 1ull << 1;
inline constexpr uint64_t kPagesGn = 1ull << 2;                    // guest (GVA) addresses: no guest tables here
inline constexpr uint64_t kAllPagesAddress = 0x7FFFFFFFFFFFF000ull;
inline constexpr uint32_t kPagesDomainShift = 32;                  // DomainID [47:32]
inline constexpr uint64_t kPagesAddrMask = 0xFFFFFFFFFFFFF000ull;  // Address [127:76] = second quadword [63:12]
inline constexpr uint64_t kPagesReservedQ0 = 0x0FFF0000FFF00000ull;  // [31:20], [59:48]
inline constexpr uint64_t kPagesReservedQ1 = 0xFF8ull;               // [75:67]
// S = 1: the first zero address bit from bit 12 up gives the range (as the page size
// encoding: 0 at bit 12 = 8 KiB, ...); log2 of the range, 64 = everything.
constexpr uint32_t pages_range_shift(uint64_t q1) { return 13 + uint32_t(std::countr_one((q1 & kPagesAddrMask) >> 12)); }
static_assert(pages_range_shift(kAllPagesAddress) == 64);
constexpr Command invalidate_domain_pages(uint16_t domain_id) {
  return {{(uint64_t{kInvalidateIommuPages} << kOpcodeShift) | (uint64_t{domain_id} << 32),
           kAllPagesAddress | kPagesPde | kPagesS}};
}
// One page (S = 0) of a domain; pde: cached page-directory entries too.
constexpr Command invalidate_page(uint16_t domain_id, uint64_t iova, bool pde) {
  return {{(uint64_t{kInvalidateIommuPages} << kOpcodeShift) | (uint64_t{domain_id} << kPagesDomainShift),
           (iova & kPagesAddrMask) | (pde ? kPagesPde : 0)}};
}
// §2.4 INVALIDATE_IOMMU_ALL: no operands.
inline constexpr uint64_t kAllReservedQ0 = 0x0FFFFFFFFFFFFFFFull;  // [59:0]; the second quadword is reserved
constexpr Command invalidate_all() { return {{uint64_t{kInvalidateIommuAll} << kOpcodeShift, 0}}; }
}  // namespace cmd
static_assert(cmd::completion_wait(0x1238, 7).q[0] == 0x1000000000001239ull);
static_assert(cmd::invalidate_dte(0x10).q[0] == 0x2000000000000010ull);

// ---- Event log (§2.5): 16-byte entries, EventCode in bits 63:60 of the first quadword ----
inline constexpr uint32_t kEventBytes = 16;
struct Event {
  uint64_t q[2];
};
static_assert(sizeof(Event) == kEventBytes);
enum EventCode : uint32_t {
  kIllegalDevTableEntry = 0x1,  // §2.5 ILLEGAL_DEV_TABLE_ENTRY
  kIoPageFault = 0x2,           // §2.5 IO_PAGE_FAULT
  kDevTabHwError = 0x3,         // §2.5 DEV_TAB_HARDWARE_ERROR
  kPageTabHwError = 0x4,        // §2.5 PAGE_TAB_HARDWARE_ERROR
  kIllegalCommandError = 0x5,   // §2.5 ILLEGAL_COMMAND_ERROR
  kCommandHwError = 0x6,        // §2.5 COMMAND_HARDWARE_ERROR
  kIotlbInvTimeout = 0x7,       // §2.5 IOTLB_INV_TIMEOUT
  kInvalidDeviceRequest = 0x8,  // §2.5 INVALID_DEVICE_REQUEST
};
namespace event {
inline constexpr uint32_t kCodeShift = 60;
inline constexpr uint64_t kDeviceIdMask = 0xFFFF;  // [15:0] DeviceID
inline constexpr uint32_t kDomainShift = 32;       // [47:32] DomainID (IO_PAGE_FAULT)
inline constexpr uint32_t kFlagsShift = 48;        // [59:48] flags (IO_PAGE_FAULT, §2.5):
inline constexpr uint64_t kFlagsMask = 0xFFF;
inline constexpr uint32_t kFlagGn = 1u << 0;       //   GN: a guest (GVA) address
inline constexpr uint32_t kFlagNx = 1u << 1;       //   NX: an instruction fetch
inline constexpr uint32_t kFlagUs = 1u << 2;       //   US: a user-mode access
inline constexpr uint32_t kFlagI = 1u << 3;        //   I: an interrupt request
inline constexpr uint32_t kFlagPr = 1u << 4;       //   PR: the page was present (a permission fault)
inline constexpr uint32_t kFlagRw = 1u << 5;       //   RW: a write
inline constexpr uint32_t kFlagPe = 1u << 6;       //   PE: permission bits were checked and denied
inline constexpr uint32_t kFlagRz = 1u << 7;       //   RZ: reserved bit not zero
inline constexpr uint32_t kFlagTr = 1u << 8;       //   TR: a translation request
constexpr uint32_t code(const Event& e) { return uint32_t(e.q[0] >> kCodeShift); }
constexpr uint16_t device_id(const Event& e) { return uint16_t(e.q[0] & kDeviceIdMask); }
constexpr uint32_t flags(const Event& e) { return uint32_t((e.q[0] >> kFlagsShift) & kFlagsMask); }
constexpr uint64_t address(const Event& e) { return e.q[1]; }  // [127:64] the faulting address
constexpr uint16_t domain_id(const Event& e) { return uint16_t(e.q[0] >> kDomainShift); }
// §2.5: an event with DeviceID, DomainID (IO_PAGE_FAULT, PAGE_TAB_HARDWARE_ERROR; 0 otherwise),
// flags and the address (of the request, the command, or the table entry).
constexpr Event make(uint32_t code, uint16_t device_id, uint16_t domain_id, uint32_t flags, uint64_t address) {
  return {{(uint64_t{code} << kCodeShift) | ((uint64_t{flags} & kFlagsMask) << kFlagsShift) |
               (uint64_t{domain_id} << kDomainShift) | device_id,
           address}};
}
}  // namespace event
static_assert(event::code(Event{{0x2000'0000'0000'0018ull, 0x1000}}) == kIoPageFault);
static_assert(event::make(kIoPageFault, 0x18, 0x19, event::kFlagRw, 0x1000).q[0] == 0x2020'0019'0000'0018ull);
static_assert(event::domain_id(event::make(kIoPageFault, 1, 0xABCD, 0, 0)) == 0xABCD);

}  // namespace redoubt::arch::amd_iommu
