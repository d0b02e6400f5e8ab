// Control-register, EFER and RFLAGS bits that the mode rules need (AMD APM
// vol. 2 §3.1 "System-Control Registers", §3.1.7 EFER, §3.1.6 RFLAGS).
// The paging-related subset lives in arch/x86/paging.hpp.
#pragma once
#include <cstdint>

#include "arch/x86/paging.hpp"

namespace redoubt::x86 {

inline constexpr uint64_t kCr0Mp = 1ull << 1, kCr0Em = 1ull << 2, kCr0Ts = 1ull << 3, kCr0Et = 1ull << 4,
                          kCr0Ne = 1ull << 5, kCr0Am = 1ull << 18, kCr0Nw = 1ull << 29, kCr0Cd = 1ull << 30;
inline constexpr uint64_t kCr4Tsd = 1ull << 2, kCr4Pse = 1ull << 4;

// EFER bits the simulated CPU implements (writes of any other bit #GP, §3.1.7).
inline constexpr uint64_t kEferImplemented = kEferLme | kEferLma | kEferNxe | kEferSvme;

inline constexpr uint64_t kRflagsTf = 1ull << 8, kRflagsIf = 1ull << 9, kRflagsDf = 1ull << 10,
                          kRflagsIopl = 3ull << 12, kRflagsNt = 1ull << 14, kRflagsRf = 1ull << 16,
                          kRflagsVm = 1ull << 17, kRflagsAc = 1ull << 18, kRflagsVif = 1ull << 19,
                          kRflagsVip = 1ull << 20, kRflagsId = 1ull << 21;

static_assert(kEferImplemented == 0x1D00);

}  // namespace redoubt::x86
