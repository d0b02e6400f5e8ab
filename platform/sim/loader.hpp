// The untrusted pre-launch loader of the simulated AMD platform (the role the
// `redoubt` tool plays, and the boot stub under QEMU): it places the SLB, the
// boot params, the hypervisor, its manifest, the launch policy and the guests in
// RAM (abi/boot_params.hpp). What the CPU then does with them is
// platform/sim/full_system (the measured images run) or platform/fake (the
// native build, for unit tests).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include <functional>
#include <string_view>

#include "abi/handoff.hpp"
#include "platform/hal/svm.hpp"
#include "platform/sim/machine.hpp"
#include "platform/sim/skinit.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::sim {

// Where the pre-launch loader puts things (physical addresses).
struct LaunchLayout {
  uint64_t slb_base = 0x01000000;     // must be 64 KiB aligned (APM vol. 2 §15.27.4)
  uint64_t boot_params = 0x01010000;  // just above the SLB
  uint64_t event_log = 0x01011000;
  uint64_t event_log_size = 0x10000;
  uint64_t outcome = 0x01021000;      // abi::LaunchOutcome (an output the images fill in)
  uint64_t manifest = 0x01030000;     // up to 64 KiB
  uint64_t launch_policy = 0x01040000;  // up to 64 KiB (sl::kMaxLaunchPolicy)
  // The DMA-protection tables' region (docs/dma.md): the DEV's bit vector on the simulator, or
  // AMD-Vi's device table for all 65,536 DeviceIDs + command buffer + event log under QEMU
  // (2 MiB + 12 KiB). One layout for both, so QEMU boots the bytes the simulator boots.
  uint64_t dev_table = 0x01C00000;
  uint64_t dev_table_size = 0x240000;
  uint64_t sl_stage2 = 0x01080000;    // sl2.bin, the SL's stage 2 (docs/skinit.md "Two stages"), up to hv_image
  uint64_t hv_image = 0x01100000;     // up to dev_table (11 MiB)
  // Guests (AMD-V issue); used only when LaunchInputs::guests is not empty.
  uint64_t guest_table = 0x01022000;  // sl::GuestTable
  uint64_t guest_images = 0x02000000; // images, manifests, initrds packed from here (page aligned), up to hv_memory
  uint64_t hv_memory = 0x04000000;    // hypervisor-owned RAM (run record, VMCBs, NPTs, maps)
  uint64_t hv_memory_size = 16ull << 20;
  uint64_t guest_ram = 0x05000000;    // each guest's RAM, 2 MiB aligned, packed from here
};

// A guest the untrusted loader places in RAM and lists in the guest table.
struct GuestInput {
  std::string name;
  std::vector<uint8_t> image;        // flat binary, entered at guest-physical 0x100000
  std::vector<uint8_t> manifest;     // signed guest manifest; empty = unsigned guest
  std::vector<uint8_t> initrd;       // empty = none
  uint64_t ram_size = 8ull << 20;    // multiple of 2 MiB
  std::array<uint64_t, 4> args{};    // GuestBootInfo.args
  uint32_t flags = 0;                // sl::kGuest* policy flags
  uint16_t io_base = 0, io_count = 0;
  std::vector<uint16_t> devices;     // PCI DeviceIDs assigned to it (docs/dma.md "Device assignment"), <= 3
};

struct GuestPlacement {
  uint64_t image_pa = 0, image_size = 0, ram_pa = 0, ram_size = 0;
  uint64_t manifest_pa = 0, manifest_size = 0, initrd_pa = 0, initrd_size = 0;
};

// Where measured_launch puts each guest (deterministic; callers may use it to
// tell a guest about addresses, e.g. the probe's targets). Throws
// std::invalid_argument if they do not fit.
std::vector<GuestPlacement> place_guests(const LaunchLayout& layout, const std::vector<GuestInput>& guests);

struct LaunchInputs {
  std::vector<uint8_t> sl_image;   // sl.bin (sealed with the hypervisor-signing key)
  std::vector<uint8_t> sl_stage2;  // sl2.bin, pinned by sl.bin; empty = none (a one-stage native SL)
  std::vector<uint8_t> hv_image;   // hv.bin
  std::vector<uint8_t> manifest;   // COSE_Sign1 hypervisor manifest
  std::vector<uint8_t> launch_policy;  // COSE_Sign1 launch policy (owner-signed); empty = none
  LaunchLayout layout;
  bool svm_enabled = true;   // EFER.SVME on the BSP before SKINIT
  bool aps_in_init = true;   // the loader sent INIT to every AP
  std::vector<GuestInput> guests;  // empty: a launch without guests (no hv_memory either)
  hal::Svm* svm = nullptr;         // platform/fake only: the SVM model the native hypervisor drives
  // platform/fake only: what the native SL's hand-off runs instead of the native
  // hypervisor (platform/fake/measured_hv: hv.bin on the full-system CPU).
  std::function<Status(hal::HypervisorHandoff&)> hypervisor_runner;
  // Test-only hypervisor flags (abi::kBareFlag*; the SL never sets them): platform/fake passes
  // them to the native hypervisor, platform/fake/measured_hv into hv.bin's entry header.
  uint64_t hv_test_flags = 0;
};

struct LaunchReport {
  bool launched = false;              // the hypervisor was entered and returned ok
  bool hypervisor_entered = false;
  std::string stage;                  // "loader", "skinit", "sl", "hypervisor"
  std::string reason;                 // why it was refused (empty when launched)
  std::optional<CpuFault> fault;      // the fault SKINIT raised, or the first one the SL/hypervisor took
  uint64_t fault_rip = 0;             // where that fault happened (full system; 0 for SKINIT)
  std::string mode = "full-system";   // "full-system": sl.bin/hv.bin executed; "native": platform/fake
  int exit_status = -1;               // what the images wrote to the debug-exit port (-1: none)
  uint64_t host_instructions = 0;     // instructions the CPU retired outside guests (SL + hypervisor)
  std::vector<uint8_t> slb_region;    // the 64 KiB SLB as it lay in memory at SKINIT
  uint16_t slb_length = 0;
  uint16_t slb_entry = 0;
  std::vector<uint8_t> event_log;     // the DRTM log the SL wrote
  std::vector<uint8_t> harness_channel;  // what the images sent on COM2 (abi/harness_channel.hpp)
  std::string platform = "sim";       // "sim" (platform/sim) or "qemu" (platform/qemu/host)
  std::string drtm = "skinit";        // "skinit" (the simulated CPU's), "harness-emulated" (QEMU: docs/qemu.md)
  double skinit_to_hv_us = 0;         // SKINIT start to hypervisor entry
  uint64_t skinit_to_hv_instructions = 0;  // full system: instructions the SL (both stages) and hv.bin's entry retired
};

// Checks the SLB image the way a careful pre-launch loader must before SKINIT
// (SKINIT itself would measure whatever is there). Empty string = fine.
std::string check_slb_image(const std::vector<uint8_t>& sl_image, uint64_t slb_base);

// Lays everything out in m's RAM as the loader would before SKINIT, and leaves
// the BSP in 64-bit kernel mode with EAX = SLB base, ready to execute SKINIT.
// Returns an empty string, or why the loader refused (the report's "loader" stage).
std::string lay_out(Machine& m, const LaunchInputs& in, const std::function<void(const std::string&)>& say);

// Lines of console output (the serial port, or the native build's console).
using ConsoleSink = std::function<void(std::string_view)>;


}  // namespace redoubt::sim
