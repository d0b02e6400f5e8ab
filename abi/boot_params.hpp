// BootParams: what the untrusted pre-launch loader tells the secure loader.
// It lies outside the measured region, so the SL treats every field as hostile:
// it DMA-protects the block, copies it, and range-checks each region.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::sl {

inline constexpr char kBootParamsMagic[8] = {'R', 'D', 'B', 'T', 'B', 'P', '0', '1'};

struct Region {
  uint64_t pa;
  uint64_t size;
};
static_assert(sizeof(Region) == 16);

struct BootParams {
  char magic[8];         // "RDBTBP01"
  uint32_t size;         // sizeof(BootParams)
  uint32_t version;      // 1
  Region hv_image;       // hypervisor image (hv.bin)
  Region hv_manifest;    // COSE_Sign1 hypervisor manifest
  Region event_log;      // buffer the SL writes the DRTM event log into
  Region launch_policy;  // COSE_Sign1 launch policy signed by the platform owner ({0,0} = none: no guest may run)
  // Optional (both {0,0} = a launch without guests, as before the AMD-V issue):
  Region hv_memory;      // RAM the hypervisor owns (VMCBs, NPTs, permission maps, run record)
  Region guest_table;    // a GuestTable listing the guest images the loader placed
  Region outcome;        // abi::LaunchOutcome the SL and hypervisor fill in ({0,0} = none); an output only
  Region dev_table;      // RAM for the AMD DEV protection table (>= 128 KiB, 4 KiB aligned, below 4 GiB);
                         // the SL builds, enables and re-checks it there (docs/dma.md). {0,0} = none
  Region sl_stage2;      // the SL's stage 2 (sl2.bin), 4 KiB aligned; stage 1 protects it and checks it against
                         // the pin in the SLB (abi/slb_layout.hpp SlbStage2Pin). {0,0} = none (a one-stage SL)
  Region txt_log;        // Intel TXT: the TXT heap's HEAP_EVENT_LOG_POINTER_ELEMENT2_1 data (24 bytes, MLE DG C.4)
                         // naming event_log as SINIT's log container: SINIT wrote the header and its events,
                         // the SL continues at the element's NextRecordOffset. {0,0} = SKINIT: the SL starts the log
};
static_assert(sizeof(BootParams) == 176);
static_assert(offsetof(BootParams, hv_image) == 16);
static_assert(offsetof(BootParams, event_log) == 48);
static_assert(offsetof(BootParams, hv_memory) == 80);
static_assert(offsetof(BootParams, guest_table) == 96);
static_assert(offsetof(BootParams, outcome) == 112);
static_assert(offsetof(BootParams, dev_table) == 128);
static_assert(offsetof(BootParams, sl_stage2) == 144);
static_assert(offsetof(BootParams, txt_log) == 160);

// The guests the untrusted loader placed in RAM (docs/guests.md). The SL
// range-checks and DEV-protects every region and passes them on; the hypervisor
// verifies each guest against the launch policy and measures it (PCR19/20)
// before its first instruction (docs/trust-model.md).
inline constexpr char kGuestTableMagic[8] = {'R', 'D', 'B', 'T', 'G', 'T', '0', '2'};
inline constexpr uint32_t kMaxGuests = 8;

// Guest policy flags (untrusted until the signed launch policy exists).
inline constexpr uint32_t kGuestNpfInject = 1u << 0;      // #NPF: inject #PF into the guest instead of killing it
inline constexpr uint32_t kGuestCpuidUnmasked = 1u << 1;  // CPUID shows the hypervisor bit and SVM (tests)
inline constexpr uint32_t kGuestNpfUnlimited = 1u << 2;   // with kGuestNpfInject: no violation limit (benchmarks)
inline constexpr uint32_t kGuestShadowPaging = 1u << 3;   // shadow page tables instead of nested paging (docs/hypervisor.md)

struct GuestEntry {
  char name[16];        // NUL-terminated, [A-Za-z0-9_-]; a label (the signed name is in the manifest)
  Region image;         // the kernel: flat binary, loaded at guest-physical 0x100000
  Region ram;           // host-physical RAM that becomes guest-physical [0, size); 2 MiB aligned
  Region manifest;      // signed guest manifest (COSE_Sign1 + x5chain); {0,0} = unsigned guest
  Region initrd;        // optional initial ramdisk; {0,0} = none
  uint64_t args[4];     // passed to the guest in its boot-info page
  uint32_t flags;       // kGuest*
  uint16_t io_base;     // one I/O port range passed through (count 0 = none); must lie in the policy's guest_io
  uint16_t io_count;
  // PCI devices assigned to the guest (docs/dma.md "Device assignment"): DeviceIDs
  // (bus[15:8] device[7:3] function[2:0]); the SL checks count <= kMaxGuestDevices and that
  // no DeviceID appears twice in the table; the hypervisor gives each a domain of the guest.
  uint16_t device_count;
  uint16_t devices[3];
};
static_assert(sizeof(GuestEntry) == 128);
static_assert(offsetof(GuestEntry, manifest) == 48);
static_assert(offsetof(GuestEntry, args) == 80);

inline constexpr uint32_t kMaxGuestDevices = 3;
static_assert(offsetof(GuestEntry, device_count) == 120);

inline constexpr uint64_t kMaxGuestManifest = 32 * 1024;   // 4 certificates of <= 4 KiB + payload
inline constexpr uint64_t kMaxLaunchPolicy = 64 * 1024;

struct GuestTable {
  char magic[8];        // "RDBTGT02"
  uint32_t count;       // <= kMaxGuests
  uint32_t entry_size;  // sizeof(GuestEntry)
  GuestEntry entries[kMaxGuests];
};
static_assert(sizeof(GuestTable) == 16 + 128 * 8);

}  // namespace redoubt::sl
