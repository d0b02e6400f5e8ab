// What a guest finds when it starts (docs/guests.md): the guest-physical
// layout the hypervisor builds and the boot-info page. guests/include/redoubt.h
// is the C twin of this header (a test keeps them equal).
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::hv {

inline constexpr uint64_t kGuestBootInfoGpa = 0x1000;  // GuestBootInfo, read-only by convention
inline constexpr uint64_t kGuestGdtGpa = 0x2000;       // null, code64 (0x08), data (0x10)
inline constexpr uint64_t kGuestPml4Gpa = 0x3000;      // initial page tables: 0x3000..0x8FFF
inline constexpr uint64_t kGuestTablesEnd = 0x10000;
inline constexpr uint64_t kGuestCmdlineGpa = 0x1200;   // NUL-terminated signed command line (<= 1023 bytes)
inline constexpr uint64_t kGuestImageGpa = 0x100000;   // flat image loaded and entered here
inline constexpr uint64_t kGuestStackReserve = 0x10000;
inline constexpr uint64_t kGuestIdentityMapBytes = 4ull << 30;  // VA == GPA for [0, 4 GiB), 2 MiB pages

// The RAM a guest may be given (Vm::load), shared with `redoubt sign guest` so that
// no manifest is signed that the hypervisor would refuse: at least 4 MiB, whole
// 2 MiB nested pages; the image at kGuestImageGpa and the initrd page-aligned after
// it, both below the stack reserve at the top of RAM.
inline constexpr uint64_t kGuestMinRam = 4ull << 20;
inline constexpr uint64_t kGuestRamAlign = 2ull << 20;
constexpr bool guest_ram_size_ok(uint64_t ram) { return ram >= kGuestMinRam && ram % kGuestRamAlign == 0; }
constexpr uint64_t guest_initrd_gpa(uint64_t image_size) { return (kGuestImageGpa + image_size + 4095) & ~4095ull; }
// Both assume guest_ram_size_ok(ram); the initrd rule also that the image fits.
constexpr bool guest_image_fits(uint64_t ram, uint64_t image_size) {
  return image_size != 0 && image_size <= ram - kGuestImageGpa - kGuestStackReserve;
}
constexpr bool guest_initrd_fits(uint64_t ram, uint64_t image_size, uint64_t initrd_size) {
  return initrd_size <= ram - kGuestStackReserve - guest_initrd_gpa(image_size);
}

inline constexpr char kGuestBootInfoMagic[8] = {'R', 'D', 'B', 'T', 'G', 'B', 'I', '1'};

struct GuestBootInfo {
  char magic[8];         // "RDBTGBI1"
  uint32_t guest_id;     // 0-based index in the guest table
  uint32_t guest_count;
  uint64_t ram_size;     // guest-physical RAM is [0, ram_size)
  uint64_t image_gpa;    // kGuestImageGpa
  uint64_t image_size;
  uint64_t args[4];      // from the loader's guest table (e.g. the probe's targets)
  char name[16];
  uint64_t tsc_per_us;   // TSC ticks per microsecond of simulated time (0 = unknown)
  uint64_t initrd_gpa;   // page-aligned, after the image; 0 = no initrd
  uint64_t initrd_size;
  uint64_t cmdline_gpa;  // kGuestCmdlineGpa (empty string for unsigned guests)
  uint32_t cmdline_len;  // bytes, without the NUL
  uint32_t svn;          // the signed manifest's SVN (0 for an unsigned guest)
  // Assigned devices (docs/dma.md "Device assignment"): DMA engines (abi/dma_engine.hpp) whose
  // BAR0 is mapped at device_bar_gpa[i] (uncached); their DMA addresses are guest-physical
  // (IOVA = GPA) and reach only this guest's RAM.
  uint32_t device_count;
  uint32_t reserved0;
  uint64_t device_bar_gpa[3];
  uint16_t device_id[4];  // bus[15:8] device[7:3] function[2:0]; [3] unused
};
static_assert(sizeof(GuestBootInfo) == 168);
static_assert(offsetof(GuestBootInfo, device_count) == 128);
static_assert(offsetof(GuestBootInfo, initrd_gpa) == 96);
static_assert(offsetof(GuestBootInfo, args) == 40);
static_assert(offsetof(GuestBootInfo, name) == 72);

}  // namespace redoubt::hv
