// The hypervisor's account of a run: what happened to each guest and why.
// It lives in the first pages of the hypervisor memory region (BootParams.
// hv_memory), written only by the hypervisor; the simulator's tools read it
// after the run (on hardware a debugger or a crash dump would). Plain data.
#pragma once
#include <cstddef>
#include <cstdint>

namespace redoubt::hv {

inline constexpr char kRunRecordMagic[8] = {'R', 'D', 'B', 'T', 'R', 'U', 'N', '1'};
inline constexpr uint64_t kRunRecordBytes = 64 * 1024;  // reserved at hv_memory[0]
inline constexpr uint32_t kRecordGuests = 8;
inline constexpr uint32_t kMaxViolations = 8;
inline constexpr uint32_t kExitCountSlots = 0xA8;  // EXITCODE 0x000..0x0A7 counted exactly
inline constexpr uint32_t kExitTrace = 128;        // the first exits of each guest, in order (ExitTraceEntry)

// refused: the launch policy refused it (issue 4); it never ran and its RAM was scrubbed.
enum class GuestState : uint32_t { created = 0, runnable = 1, halted = 2, exited = 3, killed = 4, failed = 5, refused = 6 };

enum class ViolationAction : uint32_t { killed = 1, injected_pf = 2 };

struct Violation {
  uint64_t gpa;       // faulting guest-physical address (EXITINFO2)
  uint64_t info;      // EXITINFO1 (#PF-style error code, bits 32/33)
  uint64_t rip;       // guest RIP of the access
  uint32_t action;    // ViolationAction
  uint32_t reserved;
};

// IOIO EXITINFO1 bits the exit digest ignores: the address size (A16/A32/A64, bits 9:7) and the
// segment (bits 12:10) the APM defines (vol. 2 §15.10.2) but QEMU TCG never fills (docs/qemu.md).
inline constexpr uint64_t kIoioQemuBlind = 0x1F80;

// One #VMEXIT in a guest's trace: what a differential test compares across platforms
// (the simulator, QEMU). Exits for the host timer (INTR) are not traced: when they come
// depends on the platform's speed, not on the guest.
struct ExitTraceEntry {
  uint64_t code;   // EXITCODE
  uint64_t info1;  // EXITINFO1
};
static_assert(sizeof(ExitTraceEntry) == 16);

struct GuestRecord {
  char name[16];
  uint32_t id;
  uint32_t state;            // GuestState
  int64_t exit_code;         // from the shutdown hypercall
  char reason[256];          // why it stopped (or was refused: "name: detail")
  uint64_t fault_gpa;        // for kills by #NPF: the address
  uint64_t fault_info;
  uint64_t fault_rip;
  uint32_t violation_count;  // all #NPF violations (recorded up to kMaxViolations)
  uint32_t asid;
  Violation violations[kMaxViolations];
  uint64_t ram_pa, ram_size;
  uint64_t vmcb_pa, npt_root;
  uint64_t npt_tables;
  uint64_t serial_pa, serial_len, serial_cap;  // the guest's serial output (bytes)
  uint64_t exits_total;
  uint64_t exit_counts[kExitCountSlots];
  uint64_t exits_npf, exits_other;
  uint64_t hypercalls, timer_irqs_injected, io_denied, msr_denied, cpuid_exits;
  uint64_t slices;           // times the scheduler picked it
  uint64_t run_ticks;        // TSC ticks spent in the guest
  uint64_t vmruns;
  // Admission (issue 4): hv::Admission, the refusal name and what the manifest says.
  uint32_t admission;
  uint32_t scrubbed;         // 1: its RAM was zeroed when it stopped (or was refused)
  char refusal[32];
  char signed_name[64];
  char version[32];
  uint64_t svn;
  uint64_t exit_trace_len;   // entries of exit_trace in use (at most kExitTrace; later exits are counted only)
  ExitTraceEntry exit_trace[kExitTrace];
  // The whole non-INTR #VMEXIT sequence, not only its first kExitTrace exits: how many, and the
  // SHA-256 over each one's 16 bytes (EXITCODE, normalised EXITINFO1; little-endian u64s, in order).
  // Normalised: IOIO EXITINFO1 bits 12:7 cleared (kIoioQemuBlind). Final once exit_digest_done.
  uint64_t exit_digest_count;
  uint8_t exit_digest[32];
  uint32_t exit_digest_done;
  uint32_t reserved_digest;
  // Devices assigned to it (docs/dma.md "Device assignment"): DeviceID and the BAR mapped at GPA = its address.
  uint32_t device_count;
  uint16_t device_ids[3];
  uint16_t reserved_devices;
  uint64_t device_bars[3];
  // Memory virtualization (docs/hypervisor.md "Shadow paging"): 0 nested paging, 1 shadow paging,
  // and the shadow pager's counters (hypervisor/core/shadow_paging.hpp ShadowStats), final at teardown.
  uint32_t paging;
  uint32_t reserved_paging;
  uint64_t shadow_fills, shadow_guest_faults, shadow_flushes, shadow_invlpgs, shadow_walk_refs, shadow_p2m_refs,
      shadow_recycles, shadow_dirty_upgrades, shadow_pages_peak, shadow_pool_pages;
};

struct RunRecord {
  char magic[8];
  uint32_t version;        // 1
  uint32_t guest_count;
  uint64_t hv_pages_total, hv_pages_used;
  uint64_t slices;
  uint64_t host_timer_exits;
  char status[96];         // "ok" or why the hypervisor stopped
  GuestRecord guests[kRecordGuests];
  // How the hypervisor stopped (issue 11, hypervisor/core/fail_closed.hpp).
  uint32_t hv_failed;      // 1: it failed after the hand-off and capped PCR17-20 with EV_REDOUBT_HV_FAILED
  uint32_t scrub_done;     // 1: guest RAM, its own pages and the SLB were zeroed at the stop
  uint64_t scrubbed_guest_bytes, scrubbed_hv_bytes, scrubbed_slb_bytes, scrub_skipped;
  char failure[160];       // the reason extended into PCR17-20 when hv_failed
  // Reset-attack mitigation (hal::Platform::secrets_in_memory): 1 when the platform took the flag
  // before the first guest was loaded, and when it was cleared after the final scrub.
  uint32_t secrets_flag_set, secrets_flag_cleared;
  // The test switches in force (kHvTest*: boot area | a test image's built-in ones); 0 in any real launch.
  uint64_t test_flags;
  // Which backend ran the guests (hypervisor/core/vcpu_arch.hpp): kVendorSvm or kVendorVmx. On VMX an
  // exit's code in exit_trace/exit_digest is 0x10000 | the basic exit reason (hypervisor/arch/vmx).
  uint32_t vendor;
  uint32_t reserved_vendor;
};
inline constexpr uint32_t kVendorSvm = 0, kVendorVmx = 1;
static_assert(sizeof(RunRecord) <= kRunRecordBytes);

const char* guest_state_name(GuestState s);  // "exited", "killed", ...

}  // namespace redoubt::hv
