// Intel Virtualization Technology for Directed I/O (VT-d), "Intel VT-d
// Architecture Specification" (order no. D51397; rev 3.x/4.x): the remapping
// unit's registers (§10.4; chapter 11 in the rev 4.x numbering, same offsets and
// bits), legacy-mode root and context entries (§9.1, §9.3), second-level paging
// entries (§9.8), the fault recording registers (§10.4.14) with the
// non-recoverable fault reasons (Appendix A) and the Protected Memory Regions
// TXT programs (§10.4.16-§10.4.20). Section numbers are rev 3.x's; each rule
// below names its section. Pure data: no code, no I/O.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::arch::vtd {

// Where QEMU's intel-iommu (and this simulator's Intel machine) puts the unit;
// on hardware the ACPI DMAR table's DRHD structure names it (§8.3).
inline constexpr uint64_t kDefaultBase = 0xFED90000;
inline constexpr uint64_t kMmioSize = 0x1000;  // §10.4: one 4 KiB page of registers

// ---- Registers (§10.4, offsets from the unit's base) ----
namespace reg {
inline constexpr uint32_t kVer = 0x000;       // §10.4.1 VER_REG (32): Max [7:4], Min [3:0]
inline constexpr uint32_t kCap = 0x008;       // §10.4.2 CAP_REG (64, RO)
inline constexpr uint32_t kEcap = 0x010;      // §10.4.3 ECAP_REG (64, RO)
inline constexpr uint32_t kGcmd = 0x018;      // §10.4.4 GCMD_REG (32, WO: reads 0)
inline constexpr uint32_t kGsts = 0x01C;      // §10.4.5 GSTS_REG (32, RO)
inline constexpr uint32_t kRtaddr = 0x020;    // §10.4.6 RTADDR_REG (64)
inline constexpr uint32_t kCcmd = 0x028;      // §10.4.7 CCMD_REG (64)
inline constexpr uint32_t kFsts = 0x034;      // §10.4.9 FSTS_REG (32)
inline constexpr uint32_t kFectl = 0x038;     // §10.4.10 FECTL_REG (32)
inline constexpr uint32_t kFedata = 0x03C;    // §10.4.11 FEDATA_REG (32)
inline constexpr uint32_t kFeaddr = 0x040;    // §10.4.12 FEADDR_REG (32)
inline constexpr uint32_t kFeuaddr = 0x044;   // §10.4.13 FEUADDR_REG (32)
inline constexpr uint32_t kAflog = 0x058;     // §10.4.15 AFLOG_REG (64)
inline constexpr uint32_t kPmen = 0x064;      // §10.4.16 PMEN_REG (32)
inline constexpr uint32_t kPlmbase = 0x068;   // §10.4.17 PLMBASE_REG (32)
inline constexpr uint32_t kPlmlimit = 0x06C;  // §10.4.18 PLMLIMIT_REG (32)
inline constexpr uint32_t kPhmbase = 0x070;   // §10.4.19 PHMBASE_REG (64)
inline constexpr uint32_t kPhmlimit = 0x078;  // §10.4.20 PHMLIMIT_REG (64)
// The IOTLB registers sit at ECAP.IRO * 16 (§10.4.8): IVA_REG there, IOTLB_REG 8 bytes on;
// the fault recording registers at CAP.FRO * 16, 16 bytes each (§10.4.14). The simulator
// puts them where QEMU does.
inline constexpr uint32_t kIvaQemu = 0x200;       // ECAP.IRO = 0x20
inline constexpr uint32_t kFrcdQemu = 0x220;      // CAP.FRO = 0x22
}  // namespace reg
static_assert(reg::kPhmlimit + 8 <= reg::kIvaQemu && reg::kFrcdQemu + 16 * 256 > kMmioSize);

// §10.4.2 CAP_REG.
namespace cap {
inline constexpr uint64_t kNdMask = 0x7;                  // [2:0] number of domains: 2^(4 + 2*ND)
inline constexpr uint64_t kAfl = 1ull << 3;               // advanced fault logging
inline constexpr uint64_t kRwbf = 1ull << 4;              // required write-buffer flushing
inline constexpr uint64_t kPlmr = 1ull << 5;              // protected low-memory region supported
inline constexpr uint64_t kPhmr = 1ull << 6;              // protected high-memory region supported
inline constexpr uint64_t kCm = 1ull << 7;                // caching mode: not-present entries may be cached
inline constexpr uint32_t kSagawShift = 8;                // [12:8] supported adjusted guest address widths
inline constexpr uint64_t kSagaw39 = 1ull << (kSagawShift + 1);  // bit 9: 39-bit AGAW, 3-level tables
inline constexpr uint64_t kSagaw48 = 1ull << (kSagawShift + 2);  // bit 10: 48-bit AGAW, 4-level tables
inline constexpr uint64_t kSagaw57 = 1ull << (kSagawShift + 3);  // bit 11: 57-bit AGAW, 5-level tables
inline constexpr uint32_t kMgawShift = 16;                // [21:16] maximum guest address width - 1
inline constexpr uint64_t kMgawMask = 0x3Full << kMgawShift;
inline constexpr uint64_t kZlr = 1ull << 22;              // zero-length reads
inline constexpr uint32_t kFroShift = 24;                 // [33:24] fault recording register offset / 16
inline constexpr uint64_t kFroMask = 0x3FFull << kFroShift;
inline constexpr uint32_t kSllpsShift = 34;               // [37:34] second-level large pages
inline constexpr uint64_t kSllps2M = 1ull << 34;          // 2 MiB pages (PS in a PDE)
inline constexpr uint64_t kSllps1G = 1ull << 35;          // 1 GiB pages (PS in a PDPE)
inline constexpr uint64_t kPsi = 1ull << 39;              // page-selective IOTLB invalidation
inline constexpr uint32_t kNfrShift = 40;                 // [47:40] number of fault recording registers - 1
inline constexpr uint64_t kNfrMask = 0xFFull << kNfrShift;
inline constexpr uint32_t kMamvShift = 48;                // [53:48] maximum address mask value (PSI)
inline constexpr uint64_t kMamvMask = 0x3Full << kMamvShift;
inline constexpr uint64_t kDwd = 1ull << 54;              // write draining
inline constexpr uint64_t kDrd = 1ull << 55;              // read draining
constexpr uint32_t fro_bytes(uint64_t c) { return uint32_t((c & kFroMask) >> kFroShift) * 16; }
constexpr uint32_t nfr(uint64_t c) { return uint32_t((c & kNfrMask) >> kNfrShift) + 1; }
constexpr uint32_t mgaw(uint64_t c) { return uint32_t((c & kMgawMask) >> kMgawShift) + 1; }
}  // namespace cap

// §10.4.3 ECAP_REG.
namespace ecap {
inline constexpr uint64_t kC = 1ull << 0;                 // page-walk coherency
inline constexpr uint64_t kQi = 1ull << 1;                // queued invalidation
inline constexpr uint64_t kDt = 1ull << 2;                // device-TLBs (ATS)
inline constexpr uint64_t kIr = 1ull << 3;                // interrupt remapping
inline constexpr uint64_t kPt = 1ull << 6;                // pass-through (context TT = 10b)
inline constexpr uint64_t kSc = 1ull << 7;                // snoop control
inline constexpr uint32_t kIroShift = 8;                  // [17:8] IOTLB register offset / 16
inline constexpr uint64_t kIroMask = 0x3FFull << kIroShift;
inline constexpr uint64_t kSmts = 1ull << 43;             // scalable-mode translation
constexpr uint32_t iro_bytes(uint64_t e) { return uint32_t((e & kIroMask) >> kIroShift) * 16; }
}  // namespace ecap

// §10.4.4 GCMD_REG / §10.4.5 GSTS_REG: the same bit for a command and its status.
namespace gcmd {
inline constexpr uint32_t kTe = 1u << 31;     // translation enable        / TES
inline constexpr uint32_t kSrtp = 1u << 30;   // set root table pointer    / RTPS (one-shot)
inline constexpr uint32_t kSfl = 1u << 29;    // set fault log             / FLS (one-shot)
inline constexpr uint32_t kEafl = 1u << 28;   // enable advanced fault log / AFLS
inline constexpr uint32_t kWbf = 1u << 27;    // write buffer flush        / WBFS (one-shot)
inline constexpr uint32_t kQie = 1u << 26;    // queued invalidation       / QIES
inline constexpr uint32_t kIre = 1u << 25;    // interrupt remapping       / IRES
inline constexpr uint32_t kSirtp = 1u << 24;  // set interrupt remap table pointer / IRTPS (one-shot)
inline constexpr uint32_t kCfi = 1u << 23;    // compatibility format interrupts   / CFIS
// §10.4.4: a write sets every command at once, so software writes GSTS's persistent
// bits back with the one it changes; the one-shot status bits must not be written back.
inline constexpr uint32_t kOneShot = kSrtp | kSfl | kWbf | kSirtp;
inline constexpr uint32_t kPersistent = kTe | kEafl | kQie | kIre | kCfi;
}  // namespace gcmd

// §10.4.6 RTADDR_REG.
namespace rtaddr {
inline constexpr uint64_t kAddrMask = ~0xFFFull;            // [63:12] root table (4 KiB aligned)
inline constexpr uint32_t kTtmShift = 10;                   // [11:10] translation table mode
inline constexpr uint64_t kTtmMask = 3ull << kTtmShift;
inline constexpr uint64_t kTtmLegacy = 0;                   // 00b: legacy root/context entries
inline constexpr uint64_t kTtmScalable = 1ull << kTtmShift; // 01b: scalable mode (ECAP.SMTS)
}  // namespace rtaddr

// §10.4.7 CCMD_REG: context-cache invalidation.
namespace ccmd {
inline constexpr uint64_t kIcc = 1ull << 63;       // invalidate (hardware clears it when done)
inline constexpr uint32_t kCirgShift = 61;         // [62:61] requested granularity
inline constexpr uint32_t kCaigShift = 59;         // [60:59] actual granularity (RO)
inline constexpr uint64_t kGranMask = 3;
inline constexpr uint64_t kGlobal = 1, kDomain = 2, kDevice = 3;  // 01b, 10b, 11b (00b reserved)
inline constexpr uint32_t kFmShift = 32;           // [33:32] function mask (device-selective)
inline constexpr uint32_t kSidShift = 16;          // [31:16] source-id
inline constexpr uint64_t kDidMask = 0xFFFF;       // [15:0] domain-id
constexpr uint64_t global() { return kIcc | (kGlobal << kCirgShift); }
constexpr uint64_t domain(uint16_t did) { return kIcc | (kDomain << kCirgShift) | did; }
constexpr uint64_t device(uint16_t sid, uint16_t did) {
  return kIcc | (kDevice << kCirgShift) | (uint64_t{sid} << kSidShift) | did;
}
}  // namespace ccmd

// §10.4.8.1 IOTLB_REG and §10.4.8.2 IVA_REG.
namespace iotlb {
inline constexpr uint64_t kIvt = 1ull << 63;       // invalidate (hardware clears it when done)
inline constexpr uint32_t kIirgShift = 60;         // [61:60] requested granularity
inline constexpr uint32_t kIaigShift = 57;         // [58:57] actual granularity (RO)
inline constexpr uint64_t kGranMask = 3;
inline constexpr uint64_t kGlobal = 1, kDomain = 2, kPage = 3;  // 01b, 10b, 11b (00b reserved)
inline constexpr uint64_t kDr = 1ull << 49;        // drain reads
inline constexpr uint64_t kDw = 1ull << 48;        // drain writes
inline constexpr uint32_t kDidShift = 32;          // [47:32] domain-id
constexpr uint64_t global() { return kIvt | (kGlobal << kIirgShift); }
constexpr uint64_t domain(uint16_t did) { return kIvt | (kDomain << kIirgShift) | (uint64_t{did} << kDidShift); }
constexpr uint64_t page(uint16_t did) { return kIvt | (kPage << kIirgShift) | (uint64_t{did} << kDidShift); }
// IVA_REG: ADDR [63:12], IH [6] (leaf only: paging-structure caches kept), AM [5:0] (2^AM pages).
inline constexpr uint64_t kIvaAddrMask = ~0xFFFull;
inline constexpr uint64_t kIvaIh = 1ull << 6;
inline constexpr uint64_t kIvaAmMask = 0x3F;
}  // namespace iotlb

// §10.4.9 FSTS_REG.
namespace fsts {
inline constexpr uint32_t kPfo = 1u << 0;   // primary fault overflow (RW1C)
inline constexpr uint32_t kPpf = 1u << 1;   // primary pending fault (RO: some F bit is set)
inline constexpr uint32_t kAfo = 1u << 2;   // advanced fault overflow (RW1C)
inline constexpr uint32_t kApf = 1u << 3;   // advanced pending fault (RW1C)
inline constexpr uint32_t kIqe = 1u << 4;   // invalidation queue error (RW1C)
inline constexpr uint32_t kIce = 1u << 5;   // invalidation completion error (RW1C)
inline constexpr uint32_t kIte = 1u << 6;   // invalidation time-out error (RW1C)
inline constexpr uint32_t kFriShift = 8;    // [15:8] fault record index (valid while PPF)
inline constexpr uint32_t kRw1c = kPfo | kAfo | kApf | kIqe | kIce | kIte;
}  // namespace fsts

// §10.4.10 FECTL_REG.
namespace fectl {
inline constexpr uint32_t kIm = 1u << 31;   // interrupt mask (set at reset)
inline constexpr uint32_t kIp = 1u << 30;   // interrupt pending (RO)
}  // namespace fectl

// §10.4.14 Fault Recording Register (128 bits, two quadwords).
namespace frcd {
inline constexpr uint64_t kFiMask = ~0xFFFull;      // lo [63:12] fault info: the faulting page address
inline constexpr uint64_t kSidMask = 0xFFFF;        // hi [79:64] source-id of the request
inline constexpr uint32_t kFrShift = 32;            // hi [103:96] fault reason (Appendix A)
inline constexpr uint64_t kFrMask = 0xFFull << kFrShift;
inline constexpr uint64_t kType = 1ull << 62;       // hi [126] T: 0 = write, 1 = read request
inline constexpr uint64_t kF = 1ull << 63;          // hi [127] F: fault recorded (RW1C)
constexpr uint16_t sid(uint64_t hi) { return uint16_t(hi & kSidMask); }
constexpr uint8_t reason(uint64_t hi) { return uint8_t((hi & kFrMask) >> kFrShift); }
constexpr bool is_read(uint64_t hi) { return hi & kType; }
}  // namespace frcd

// Appendix A: non-recoverable fault reasons for DMA remapping (legacy mode).
enum FaultReason : uint8_t {
  kFrRootNotPresent = 0x1,      // the root entry's Present field is clear
  kFrContextNotPresent = 0x2,   // the context entry's Present field is clear
  kFrContextInvalid = 0x3,      // invalid context entry programming (AW not in SAGAW, TT reserved, ...)
  kFrAddressBeyondAgaw = 0x4,   // input address above 2^X - 1, X = min(MGAW, AGAW of the context)
  kFrWriteDenied = 0x5,         // a write to a page without W (or a not-present entry)
  kFrReadDenied = 0x6,          // a read from a page without R (or a not-present entry)
  kFrSlEntryAccess = 0x7,       // error accessing a second-level paging entry
  kFrRootAccess = 0x8,          // error accessing the root entry
  kFrContextAccess = 0x9,       // error accessing the context entry
  kFrRootReserved = 0xA,        // non-zero reserved field in a root entry
  kFrContextReserved = 0xB,     // non-zero reserved field in a context entry
  kFrSlReserved = 0xC,          // non-zero reserved field in a second-level paging entry
  kFrTranslationType = 0xD,     // the request's AT is blocked by the context's TT
};

// §10.4.16 PMEN_REG.
namespace pmen {
inline constexpr uint32_t kEpm = 1u << 31;  // enable protected memory regions
inline constexpr uint32_t kPrs = 1u << 0;   // protected region status (RO)
}  // namespace pmen
// §10.4.17-§10.4.20: the base/limit registers keep bits [31:N] (low) / [HAW-1:N] (high);
// N is implementation-defined and found by writing all ones. Here (as on the parts TXT
// documents) the granularity is 2 MiB: a region runs from base to limit + 2 MiB - 1, and
// a limit below the base disables it.
inline constexpr uint32_t kPmrGranularityShift = 21;
inline constexpr uint64_t kPmrGranularity = 1ull << kPmrGranularityShift;
inline constexpr uint32_t kPlmMask = 0xFFE00000u;

// ---- Translation structures (§9) ----
inline constexpr uint32_t kEntryBytes = 16;        // root and context entries are 128-bit
inline constexpr uint32_t kEntriesPerTable = 256;  // root: one per bus; context: one per dev/fn
struct Entry128 {
  uint64_t lo, hi;
};
static_assert(sizeof(Entry128) == kEntryBytes && kEntryBytes * kEntriesPerTable == 4096);

// §9.1 Root entry (legacy mode, RTADDR.TTM = 00b), indexed by bus number.
namespace root {
inline constexpr uint64_t kP = 1ull << 0;               // present
inline constexpr uint64_t kCtpMask = ~0xFFFull;         // [63:12] context table pointer
inline constexpr uint64_t kReservedLo = 0xFFEull;       // [11:1]
inline constexpr uint64_t kReservedHi = ~0ull;          // [127:64]
}  // namespace root

// §9.3 Context entry (legacy mode), indexed by device << 3 | function.
namespace ctx {
inline constexpr uint64_t kP = 1ull << 0;               // lo [0] present
inline constexpr uint64_t kFpd = 1ull << 1;             // lo [1] fault processing disable
inline constexpr uint32_t kTtShift = 2;                 // lo [3:2] translation type
inline constexpr uint64_t kTtMask = 3ull << kTtShift;
inline constexpr uint64_t kTtUntranslated = 0;          // 00b: second-level translation, no ATS
inline constexpr uint64_t kTtAll = 1;                   // 01b: also translated requests (device TLB)
inline constexpr uint64_t kTtPassThrough = 2;           // 10b: no translation (ECAP.PT)
inline constexpr uint64_t kTtReserved = 3;
inline constexpr uint64_t kSlptMask = ~0xFFFull;        // lo [63:12] second-level page-table pointer
inline constexpr uint64_t kReservedLo = 0xFF0ull;       // lo [11:4]
inline constexpr uint64_t kAwMask = 0x7;                // hi [66:64] address width: 1 = 39-bit, 2 = 48-bit, 3 = 57-bit
inline constexpr uint64_t kAw39 = 1, kAw48 = 2, kAw57 = 3;
inline constexpr uint32_t kDidShift = 8;                // hi [87:72] domain-id
inline constexpr uint64_t kDidMask = 0xFFFFull << kDidShift;
inline constexpr uint64_t kReservedHi = (1ull << 7) | ~0xFFFFFFull;  // hi [71], [127:88]
constexpr uint32_t tt(uint64_t lo) { return uint32_t((lo & kTtMask) >> kTtShift); }
constexpr uint16_t did(uint64_t hi) { return uint16_t((hi & kDidMask) >> kDidShift); }
// AW -> page-table levels (AW + 2) and address bits (30 + 9 * AW).
constexpr uint32_t levels(uint64_t aw) { return uint32_t(aw) + 2; }
constexpr uint32_t agaw_bits(uint64_t aw) { return 30 + 9 * uint32_t(aw); }
}  // namespace ctx
static_assert(ctx::levels(ctx::kAw48) == 4 && ctx::agaw_bits(ctx::kAw39) == 39 && ctx::agaw_bits(ctx::kAw48) == 48);
static_assert(ctx::did(0xABCD00ull) == 0xABCD);

// §9.8 Second-level paging entries (PML5E/PML4E/PDPE/PDE/PTE).
namespace sl {
inline constexpr uint64_t kR = 1ull << 0;               // read (ANDed down the walk)
inline constexpr uint64_t kW = 1ull << 1;               // write (ANDed down the walk)
inline constexpr uint64_t kX = 1ull << 2;               // execute (requests with PASID only)
inline constexpr uint64_t kPs = 1ull << 7;              // page size: a 1 GiB (PDPE) or 2 MiB (PDE) page
inline constexpr uint64_t kSnp = 1ull << 11;            // snoop (leaf)
inline constexpr uint64_t kTm = 1ull << 62;             // transient mapping (leaf)
inline constexpr uint64_t kAddrMask = 0x000FFFFFFFFFF000ull;  // [51:12]; bits at and above HAW are reserved
// §9.8 reserved bits: address bits at and above HAW (below bit 52), SNP where ECAP.SC is
// clear, PS at a level with no page size (PML4E always; PDPE/PDE per CAP.SLLPS), and in a
// large page the address bits below its size (bits 20:12 of a 2 MiB page, 29:12 of 1 GiB).
constexpr uint64_t reserved_above(uint32_t haw) { return haw >= 52 ? 0 : (0x000FFFFFFFFFFFFFull & ~((1ull << haw) - 1)); }
constexpr uint64_t large_page_reserved(uint32_t shift) { return ((1ull << shift) - 1) & ~0xFFFull; }
}  // namespace sl
static_assert(sl::reserved_above(48) == 0x000F000000000000ull && sl::reserved_above(39) == 0x000FFF8000000000ull);
static_assert(sl::large_page_reserved(21) == 0x1FF000 && sl::large_page_reserved(30) == 0x3FFFF000);
inline constexpr uint32_t kSlEntries = 512;
// The table index at `level` (1 = PT ... 5 = PML5) of an address, and the bytes an entry of that level maps.
constexpr uint32_t sl_index(uint64_t a, uint32_t level) { return uint32_t(a >> (12 + 9 * (level - 1))) & 511; }
constexpr uint32_t sl_shift(uint32_t level) { return 12 + 9 * (level - 1); }
static_assert(sl_index(0x0000'0080'0000'1000ull, 4) == 1 && sl_shift(2) == 21 && sl_shift(3) == 30);

// Source-id (requester ID): bus [15:8], device [7:3], function [2:0].
constexpr uint8_t sid_bus(uint16_t sid) { return uint8_t(sid >> 8); }
constexpr uint8_t sid_devfn(uint16_t sid) { return uint8_t(sid & 0xFF); }

}  // namespace redoubt::arch::vtd
