// TXT configuration registers (Intel TXT Software Development Guide, MLE DG 315168, Appendix B
// "Intel TXT Configuration Registers"), the GETSEC leaves (Intel SDM vol. 2D, GETSEC) and the
// VT-d protected-memory registers SINIT programs (Intel VT-d spec §11.4.11, §11.4.12). Pure data.
#pragma once
#include <cstdint>

#include "arch/intel/txt_secrets.hpp"

namespace redoubt::arch::txt {

// B.1: offsets from kPrivateBase / kPublicBase (txt_secrets.hpp).
inline constexpr uint64_t kSts = 0x000;          // TXT.STS
inline constexpr uint64_t kEsts = 0x008;         // TXT.ESTS
inline constexpr uint64_t kErrorCode = 0x030;    // TXT.ERRORCODE
inline constexpr uint64_t kCmdReset = 0x038;     // TXT.CMD.RESET
inline constexpr uint64_t kCmdClosePrivate = 0x048;
inline constexpr uint64_t kVerFsbif = 0x100;
inline constexpr uint64_t kDidVid = 0x110;       // TXT.DIDVID
inline constexpr uint64_t kVerQpiif = 0x200;
inline constexpr uint64_t kSinitBase = 0x270;    // TXT.SINIT.BASE
inline constexpr uint64_t kSinitSize = 0x278;    // TXT.SINIT.SIZE
inline constexpr uint64_t kMleJoin = 0x290;
inline constexpr uint64_t kHeapBase = 0x300;     // TXT.HEAP.BASE
inline constexpr uint64_t kHeapSize = 0x308;     // TXT.HEAP.SIZE
inline constexpr uint64_t kDpr = 0x330;
inline constexpr uint64_t kCmdOpenLocality1 = 0x380;
inline constexpr uint64_t kCmdCloseLocality1 = 0x388;
inline constexpr uint64_t kCmdOpenLocality2 = 0x390;
inline constexpr uint64_t kCmdCloseLocality2 = 0x398;
inline constexpr uint64_t kPublicKey = 0x400;    // TXT.PUBLIC.KEY: hash of the chipset ACM key (fuses)
inline constexpr uint64_t kSpad = 0xA0;          // TXT.SPAD (BOOTSTATUS on newer parts)
static_assert(kErrorCode == 0x30 && kHeapBase == 0x300 && kSinitBase == 0x270);

namespace sts {  // B.1 TXT.STS
inline constexpr uint64_t kSenterDone = 1ull << 0;
inline constexpr uint64_t kSexitDone = 1ull << 1;
inline constexpr uint64_t kMemConfigLock = 1ull << 6;
inline constexpr uint64_t kPrivateOpen = 1ull << 7;
inline constexpr uint64_t kLocality1Open = 1ull << 15;
inline constexpr uint64_t kLocality2Open = 1ull << 16;
}  // namespace sts

namespace ests {  // B.1 TXT.ESTS
inline constexpr uint64_t kTxtResetSts = 1ull << 0;  // a TXT shutdown happened (sticky until power cycle)
}  // namespace ests

// B.1 TXT.ERRORCODE: bit 31 valid, bit 30 external (1: written by an ACM/software, 0: by the
// processor), bits 29:0 type-specific. For an ACM (MLE DG B.1 / the SINIT error tables):
// bits 3:0 module type (1 = SINIT), 9:4 progress code, 14:10 error code, 15 source, 24:16 minor.
namespace errorcode {
inline constexpr uint32_t kValid = 1u << 31;
inline constexpr uint32_t kExternal = 1u << 30;
inline constexpr uint32_t kAcmTypeSinit = 1;
constexpr uint32_t acm(uint32_t progress, uint32_t error, uint32_t minor = 0) {
  return kValid | kExternal | ((minor & 0x1FF) << 16) | ((error & 0x1F) << 10) | ((progress & 0x3F) << 4) |
         kAcmTypeSinit;
}
constexpr uint32_t progress_of(uint32_t code) { return (code >> 4) & 0x3F; }
constexpr uint32_t error_of(uint32_t code) { return (code >> 10) & 0x1F; }
constexpr uint32_t minor_of(uint32_t code) { return (code >> 16) & 0x1FF; }
// Processor-detected (external = 0): the ACM failed authentication before SINIT ran.
constexpr uint32_t processor(uint32_t type) { return kValid | (type & 0x3FFFFFFF); }
static_assert(progress_of(acm(0x1D, 0x2, 0x7)) == 0x1D && error_of(acm(0x1D, 0x2, 0x7)) == 0x2);
}  // namespace errorcode

// SDM vol. 2D GETSEC leaf numbers (EAX).
inline constexpr uint32_t kGetsecCapabilities = 0;
inline constexpr uint32_t kGetsecEnteraccs = 2;
inline constexpr uint32_t kGetsecExitac = 3;
inline constexpr uint32_t kGetsecSenter = 4;
inline constexpr uint32_t kGetsecSexit = 5;
inline constexpr uint32_t kGetsecParameters = 6;
inline constexpr uint32_t kGetsecSmctrl = 7;
inline constexpr uint32_t kGetsecWakeup = 8;

// GETSEC[CAPABILITIES] result (EAX), SDM vol. 2D Table "Getsec Capability Result Encoding".
namespace getsec_caps {
inline constexpr uint32_t kChipsetPresent = 1u << 0;
inline constexpr uint32_t kEnteraccs = 1u << 2;
inline constexpr uint32_t kExitac = 1u << 3;
inline constexpr uint32_t kSenter = 1u << 4;
inline constexpr uint32_t kSexit = 1u << 5;
inline constexpr uint32_t kParameters = 1u << 6;
inline constexpr uint32_t kSmctrl = 1u << 7;
inline constexpr uint32_t kWakeup = 1u << 8;
}  // namespace getsec_caps

inline constexpr uint64_t kCr4Smxe = 1ull << 14;       // SDM vol. 3A §2.5: CR4.SMXE
inline constexpr uint32_t kCpuid1EcxSmx = 1u << 6;     // CPUID.1:ECX.SMX

// VT-d protected memory regions (VT-d spec §11.4.11-12): registers of the remapping unit SINIT programs.
inline constexpr uint64_t kVtdBase = 0xFED90000;  // the simulated platform's DRHD register base
inline constexpr uint64_t kVtdPmen = 0x64;        // PMEN_REG: bit 31 EPM (enable), bit 0 PRS (status)
inline constexpr uint64_t kVtdPlmbase = 0x68;     // PLMBASE_REG (32-bit)
inline constexpr uint64_t kVtdPlmlimit = 0x6C;    // PLMLIMIT_REG (32-bit)
inline constexpr uint64_t kVtdPhmbase = 0x70;     // PHMBASE_REG (64-bit)
inline constexpr uint64_t kVtdPhmlimit = 0x78;    // PHMLIMIT_REG (64-bit)
inline constexpr uint32_t kVtdPmenEpm = 1u << 31;

}  // namespace redoubt::arch::txt
