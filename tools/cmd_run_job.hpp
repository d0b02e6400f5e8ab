// `redoubt run` as a reusable job: a measured launch (tools/launch_job) whose
// hypervisor then runs guests on the simulated CPU's SVM model; the results
// come from the hypervisor's run record (hypervisor/core/run_record.hpp) and
// the CPU model's counters. Used by the CLI, the tests and bench_hv.
#pragma once
#include <cstdint>
#include <array>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/launch_job.hpp"

namespace redoubt::sim {
class Machine;
}

namespace redoubt::tools {

// "GUEST=BB:DD.F" (hex bus, device < 20h, function < 8) -> GUEST and the PCI DeviceID
// (bus << 8 | device << 3 | function); std::invalid_argument naming what is wrong.
void parse_device_assignment(const std::string& spec, std::string& guest, uint16_t& device_id);

// --guest-args GUEST=V0[,V1[,V2[,V3]]]: the loader's args[] for one guest. A value is a number
// (decimal or 0x hex) or a host-physical address the loader resolves once it has placed
// everything: hv-image, hv-memory, slb or ram:GUEST (that guest's RAM), each with an optional
// +OFFSET. Throws std::invalid_argument naming what is malformed.
struct GuestArgsSpec {
  struct Value {
    std::string symbol;  // empty: a plain number (offset)
    std::string ram_of;  // symbol "ram": whose RAM
    uint64_t offset = 0;
  };
  std::string guest;
  std::vector<Value> values;
};
GuestArgsSpec parse_guest_args(const std::string& spec);

struct RunOptions {
  LaunchOptions launch;
  // --serve-tpm PORT (`redoubt run --platform qemu`): after the run, the run's swtpm served on
  // 127.0.0.1:PORT/PORT+1 for tpm2-tools (tpm/swtpm_bridge_tcp.hpp); -1 = not served, 0 = a free port.
  int serve_tpm_port = -1;
  uint64_t serve_tpm_seconds = 0;  // 0: until SIGINT or SIGTERM
  // NAME (build/guests/NAME.bin), FILE, or KERNEL:MANIFEST[:INITRD] (a signed guest as
  // issued); empty: hello sha256 mmu probe. NAME/FILE guests are signed on the fly
  // with `pki` (default: the demo PKI) unless unsigned_guests.
  std::vector<std::string> guests;
  std::string pki;                   // PKI directory (redoubt pki init) for NAME/FILE guests
  bool unsigned_guests = false;      // NAME/FILE guests carry no manifest
  bool no_policy = false;            // launch without a launch policy (every guest is refused)
  uint64_t guest_svn = 1;            // SVN of the manifests signed on the fly
  std::string cmdline;               // their command line
  bool ram_from_manifest = true;     // KERNEL:MANIFEST guests get the RAM their manifest asks for (else --ram-mib)
  std::string guest_dir;             // empty: <build>/guests
  std::string npf;                   // "", "kill" or "inject" ("": inject for the probe, kill for others)
  uint64_t sha_bytes = 0;            // sha256 guest's n (0 = its default, 1 MiB)
  uint64_t ram_mib = 8;              // per guest
  uint64_t probe_first = 0;          // probe guest: index of its first attempt (args[3])
  bool cpuid_unmasked = false;
  // --paging: memory virtualization for every guest, "nested" (NPT) or "shadow" (shadow page
  // tables, docs/hypervisor.md "Shadow paging"); a guest_flags entry with kGuestShadowPaging wins.
  std::string paging = "nested";
  uint32_t extra_flags = 0;          // more sl::kGuest* flags for every guest (benchmarks)
  std::map<size_t, uint32_t> guest_flags;  // more sl::kGuest* flags for the guest at this position (redoubt attack)
  std::map<size_t, uint64_t> guest_ram_mib;  // RAM of the guest at this position (default ram_mib)
  // --assign-device GUEST=BB:DD.F (docs/dma.md "Device assignment"): GUEST is a guest's name
  // (as run.json shows it) or its 0-based position.
  std::vector<std::string> assign_devices;
  std::vector<std::string> guest_arg_specs;  // --guest-args GUEST=V0,...: the loader's args[] (parse_guest_args)
  std::map<size_t, std::array<uint64_t, 4>> guest_args;  // the loader's args[] for the guest at this position
  std::array<uint64_t, 4> hvbench_args{};  // hvbench guest: mode, iterations       // show the hypervisor bit and SVM to the guests (policy test)
  bool stats = false;                // print the stats table
  bool progress = false;             // a progress line on stderr every 2 s (tools/research/run_progress.hpp)
  std::string trace_path;            // --trace FILE: every #VMEXIT as CSV (.csv) or JSON lines (docs/research.md)
  // Called around every VMRUN: after=false just before it, after=true right after the
  // #VMEXIT (before the world switch stores the guest GPRs back into hypervisor memory).
  std::function<void(sim::Machine&, uint64_t vmcb_pa, bool after)> on_vmrun;
  // Called once the hypervisor has returned, with the machine as it left it.
  std::function<void(sim::Machine&)> after_run;
};

struct Violation {
  uint64_t gpa = 0, info = 0, rip = 0;
  std::string access, action;
};

struct GuestResult {
  std::string name;
  std::string status;     // "exited" | "killed" | "failed" | ...
  std::string reason;
  int64_t exit_code = 0;
  std::string admission;  // "signed" | "unsigned" | "refused" (issue 4)
  std::string refusal;    // the refusal name when refused
  std::string signed_name, version, manifest_path;
  uint64_t svn = 0;
  bool scrubbed = false;  // its RAM was zeroed when it stopped / was refused
  uint64_t fault_gpa = 0, fault_rip = 0;
  bool has_fault = false;
  std::vector<Violation> violations;
  uint32_t violation_count = 0;
  std::string serial;     // everything the guest wrote to its serial port
  uint64_t ram_pa = 0, ram_size = 0, vmcb_pa = 0, npt_root = 0;
  uint32_t asid = 0;
  // statistics
  std::map<std::string, uint64_t> exits;  // by exit name
  uint64_t exits_total = 0, vmruns = 0, hypercalls = 0, timer_irqs = 0, run_ticks = 0;
  uint64_t instructions = 0, tlb_hits = 0, tlb_misses = 0, walks = 0, walk_refs = 0, npt_walk_refs = 0;
  double host_seconds = 0;  // wall-clock time spent inside VMRUN for this guest
  std::vector<std::pair<uint64_t, uint64_t>> exit_trace;  // (EXITCODE, EXITINFO1) of its first non-INTR exits
  // The whole non-INTR #VMEXIT sequence (hypervisor/core/run_record.hpp exit_digest): count and SHA-256 hex.
  uint64_t exit_digest_count = 0;
  std::string exit_digest;  // empty: not finished (the guest never ran)
  std::vector<std::pair<uint16_t, uint64_t>> devices;     // assigned by the hypervisor: (DeviceID, BAR0 at GPA = address)
  // Memory virtualization: "nested" or "shadow", and the shadow pager's counters (run_record.hpp).
  std::string paging = "nested";
  std::map<std::string, uint64_t> shadow;
};

struct RunResult {
  LaunchJobResult launch;
  bool ran = false;                  // the hypervisor ran the guests (record present)
  std::string hv_status;
  // How the hypervisor stopped (hypervisor/core/fail_closed.hpp): a failure of its own after the
  // hand-off (PCR17-20 capped, the reason), and what it scrubbed at the stop.
  bool hv_failed = false;
  std::string hv_failure;
  bool scrub_done = false;
  uint64_t scrubbed_guest_bytes = 0, scrubbed_hv_bytes = 0, scrubbed_slb_bytes = 0, scrub_skipped = 0;
  std::vector<GuestResult> guests;
  uint64_t hv_memory_pa = 0, hv_memory_size = 0, hv_image_pa = 0, hv_image_size = 0, slb_base = 0;
  uint64_t hv_pages_used = 0, slices = 0;
  uint64_t hv_test_flags = 0;  // the hypervisor's test switches in force (run record); 0 in any real launch
  double host_seconds = 0;           // whole run (launch + guests)
  nlohmann::json run_json, stats_json;
};

// Throws like run_launch_job (InputError, std::invalid_argument, TpmError).
RunResult run_guests_job(const RunOptions& o, tpm::TpmDevice& tpm, const Say& say);

// The --stats table.
std::string format_stats_table(const RunResult& r);

// The guest names `redoubt run` runs by default.
const std::vector<std::string>& default_guests();

}  // namespace redoubt::tools
