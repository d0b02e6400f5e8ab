// The harness channel: the second 16550 UART (COM2, 0x2F8) between the machine
// and whoever started it (the simulator, the QEMU harness, a lab's serial
// logger). Nothing on it is trusted or measured; it only carries out what the
// PCRs already prove (the event log) and what a run produced (docs/qemu.md).
//
//  * Evidence at power-off (every image, through x86::launch_stop): the regions
//    of memory a host needs to write launch.json / run.json / eventlog.bin — the
//    LaunchOutcome record, the DRTM event log [pa, used), the hypervisor's run
//    record and each guest's serial buffer:
//      "RDBTDUMP" | u32 version (1) | u32 exit status | u32 region count |
//      count x { u64 pa | u64 length | length bytes } | "RDBTEND!"
//    (all little-endian). The images stop sending if the UART stays busy, so a
//    machine with nothing on COM2 still powers off.
//  * SKINIT request (the QEMU boot stub only; QEMU has no SKINIT and no
//    locality 4): "RDBTSKIN" | u64 SLB base | u32 length | SLB[0:length]; the
//    harness runs the DRTM hash sequence over those bytes on the TPM and answers
//    one byte: kSkinitGo, or kSkinitAbort.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::abi {

inline constexpr uint16_t kHarnessPort = 0x2F8;  // COM2
inline constexpr char kDumpMagic[8] = {'R', 'D', 'B', 'T', 'D', 'U', 'M', 'P'};
inline constexpr char kDumpEnd[8] = {'R', 'D', 'B', 'T', 'E', 'N', 'D', '!'};
inline constexpr uint32_t kDumpVersion = 1;
inline constexpr uint32_t kDumpMaxRegions = 48;
inline constexpr uint64_t kDumpMaxRegionBytes = 1ull << 20;  // a host rejects anything larger

inline constexpr char kSkinitMagic[8] = {'R', 'D', 'B', 'T', 'S', 'K', 'I', 'N'};
inline constexpr uint8_t kSkinitGo = 'G';
inline constexpr uint8_t kSkinitAbort = 'X';

// The QEMU boot stub's input (multiboot module 0 with mode=image): the memory
// the untrusted pre-launch loader laid out (platform/sim/loader.cpp), as
// regions the stub copies to their physical addresses before the SKINIT request.
inline constexpr char kBootImageMagic[8] = {'R', 'D', 'B', 'T', 'B', 'I', 'M', 'G'};
struct BootImageHeader {
  char magic[8];
  uint32_t version;       // 1
  uint32_t region_count;
  uint64_t slb_base;      // 64 KiB aligned: where the stub "executes SKINIT"
  uint64_t reserved;
};
struct BootImageRegion {
  uint64_t pa;            // destination
  uint64_t size;          // bytes
  uint64_t offset;        // from the start of the image (the header)
};
static_assert(sizeof(BootImageHeader) == 32);
static_assert(sizeof(BootImageRegion) == 24);
static_assert(offsetof(BootImageHeader, slb_base) == 16);

}  // namespace redoubt::abi
