#include "tools/cmd_run_job.hpp"
#include "tools/research/exit_trace.hpp"
#include "tools/research/run_progress.hpp"

#include <cctype>
#include <ctime>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>

#include "arch/svm/exit_codes.hpp"
#include "hypervisor/core/guest_admission.hpp"
#include "hypervisor/core/entry.hpp"
#include "hypervisor/core/run_record.hpp"
#include "platform/sim/host_ticks.hpp"
#include "platform/sim/machine.hpp"
#include "platform/sim/svm/svm_cpu.hpp"
#include "abi/boot_params.hpp"
#include "tools/common.hpp"
#include "policy/fs/guest_manifest.hpp"
#include "policy/host/host_io.hpp"
#include "tools/guest_signing.hpp"

namespace redoubt::tools {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string hx(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

struct PerVmcb {
  uint64_t walks = 0, walk_refs = 0, nested_refs = 0;
  uint64_t ticks = 0;  // host time in guest mode (sim::HostTicks)
};

// hal::Svm over the simulated CPU's SVM model; it also attributes the CPU's
// walk counters and host time to each VMCB.
class SimSvm final : public hal::Svm {
 public:
  SimSvm(sim::Machine& m, const RunOptions& o) : m_(m), cpu_(m), o_(o) {}
  bool available() override { return cpu_.available(); }
  Status enable(uint64_t hsave_pa) override { return cpu_.enable(hsave_pa); }
  void invlpga(uint64_t va, uint32_t asid) override { cpu_.invlpga(va, asid); }
  uint64_t rdtsc() override { return cpu_.rdtsc(); }
  void arm_timer(uint64_t deadline, uint8_t vector) override { cpu_.arm_timer(deadline, vector); }

  void vmrun(uint64_t vmcb_pa, hal::GuestGprs& g, hal::GuestExtState* ext) override {
    if (o_.on_vmrun) o_.on_vmrun(m_, vmcb_pa, false);
    if (observer) observer->world_switch(cpu_.cpu(), m_.mem(), vmcb_pa, true, false);
    auto& c = cpu_.counters();
    const uint64_t w0 = c.walks, r0 = c.walk_refs, n0 = c.nested_walk_refs;
    const uint64_t t0 = ticks.now();
    hal::GuestGprs regs = g;  // like a real stub: the save area is written back after #VMEXIT
    cpu_.vmrun(vmcb_pa, regs, ext);
    if (vmcb_pa != last_pa_ || !last_) last_ = &per_[vmcb_pa], last_pa_ = vmcb_pa;  // map nodes are stable
    PerVmcb& p = *last_;
    p.ticks += ticks.now() - t0;
    p.walks += c.walks - w0;
    p.walk_refs += c.walk_refs - r0;
    p.nested_refs += c.nested_walk_refs - n0;
    if (observer) observer->world_switch(cpu_.cpu(), m_.mem(), vmcb_pa, false, false);
    if (o_.on_vmrun) o_.on_vmrun(m_, vmcb_pa, true);  // memory exactly as the #VMEXIT left it
    g = regs;
  }

  sim::SvmCpu& cpu() { return cpu_; }
  std::map<uint64_t, PerVmcb> per_;
  sim::HostTicks ticks;
  WorldSwitchObserver* observer = nullptr;  // --trace, progress (native engine: the host's instructions are not counted)

 private:
  sim::Machine& m_;
  sim::SvmCpu cpu_;
  const RunOptions& o_;
  PerVmcb* last_ = nullptr;
  uint64_t last_pa_ = 0;
};

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s)
    if (isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') out += c;
  if (out.empty()) out = "guest";
  return out.substr(0, 15);
}

const char* access_name(uint64_t info) {
  if (info & (1u << 4)) return "execute";
  if (info & (1u << 1)) return "write";
  return "read";
}

}  // namespace

const std::vector<std::string>& default_guests() {
  static const std::vector<std::string> g = {"hello", "sha256", "mmu", "probe"};
  return g;
}

RunResult run_guests_job(const RunOptions& o, tpm::TpmDevice& tpm, const Say& say) {
  RunResult res;
  const fs::path gdir = o.guest_dir.empty() ? build_dir() / "guests" : fs::absolute(o.guest_dir);
  const std::vector<std::string>& names = o.guests.empty() ? default_guests() : o.guests;

  const fs::path state = state_dir(o.launch.state);
  const fs::path out_dir = fs::absolute(o.launch.out);
  fs::create_directories(out_dir);
  LaunchOptions lo = o.launch;
  // The guest PKI: --pki, else the demo PKI (generated on first use) when anything needs it.
  fs::path pki = o.pki.empty() ? fs::path() : fs::absolute(o.pki);
  auto need_pki = [&]() -> const fs::path& {
    if (pki.empty()) pki = ensure_demo_pki(state, say);
    return pki;
  };
  std::string policy_source = "none";
  if (!lo.policy.empty()) {
    policy_source = fs::absolute(lo.policy).string();
  } else if (!o.no_policy) {
    // The demo policy: trusts the PKI's root, dated now, signed by its owner key.
    lo.policy_bytes = sign_pki_policy(need_pki(), static_cast<uint64_t>(std::time(nullptr)), "redoubt-demo-policy");
    write_file(out_dir / "launch.policy", lo.policy_bytes);
    if (lo.owner.empty()) lo.owner = (pki / "owner.pub.pem").string();
    policy_source = (out_dir / "launch.policy").string();
    say("[tool] signed the demo launch policy (anchor: " + (pki / "root.crt.pem").string() + ") -> " + policy_source);
  }
  if (!o.unsigned_guests) fs::create_directories(out_dir / "manifests");

  // Resolve the guests: NAME -> <guests>/NAME.bin, else a file; KERNEL:MANIFEST[:INITRD] as issued.
  std::vector<sim::GuestInput> guests;
  std::vector<std::string> kinds, manifest_paths;
  std::set<std::string> used;
  for (const std::string& arg0 : names) {
    fs::path file;
    std::string kind, arg = arg0;
    std::vector<std::string> parts;
    for (size_t at = 0;;) {
      size_t c = arg0.find(':', at);
      parts.push_back(arg0.substr(at, c == std::string::npos ? std::string::npos : c - at));
      if (c == std::string::npos) break;
      at = c + 1;
    }
    if (parts.size() > 3 || (parts.size() >= 2 && (parts[0].empty() || parts[1].empty())))
      throw std::invalid_argument("--guest " + arg0 + ": expected NAME, FILE or KERNEL:MANIFEST[:INITRD]");
    arg = parts[0];
    if (arg.find('/') == std::string::npos && arg.find('.') == std::string::npos) {
      file = gdir / (arg + ".bin");
      kind = arg;
    } else {
      file = fs::absolute(arg);
      kind = file.stem().string();
    }
    sim::GuestInput g;
    g.name = sanitize(kind);
    for (int k = 2; used.count(g.name); ++k) g.name = sanitize(kind).substr(0, 12) + "-" + std::to_string(k);
    used.insert(g.name);
    g.image = read_file(file, input::kGuestKernel);
    if (o.ram_mib < 4 || o.ram_mib % 2) throw std::invalid_argument("--ram-mib must be even and at least 4");
    g.ram_size = o.ram_mib << 20;
    uint64_t ram_mib = o.ram_mib;
    if (auto it = o.guest_ram_mib.find(guests.size()); it != o.guest_ram_mib.end()) {
      if (it->second < 4 || it->second % 2) throw std::invalid_argument("guest RAM must be even and at least 4 MiB");
      ram_mib = it->second;
      g.ram_size = ram_mib << 20;
    }
    if (kind == "sha256") g.args[0] = o.sha_bytes;
    const bool inject = o.npf == "inject" || (o.npf.empty() && kind == "probe");
    if (!o.npf.empty() && o.npf != "inject" && o.npf != "kill")
      throw std::invalid_argument("--npf " + o.npf + ": expected kill or inject");
    if (inject) g.flags |= sl::kGuestNpfInject;
    if (o.cpuid_unmasked) g.flags |= sl::kGuestCpuidUnmasked;
    if (o.paging != "nested" && o.paging != "shadow")
      throw std::invalid_argument("--paging " + o.paging + ": expected nested or shadow");
    if (o.paging == "shadow") g.flags |= sl::kGuestShadowPaging;
    g.flags |= o.extra_flags;
    if (auto it = o.guest_flags.find(guests.size()); it != o.guest_flags.end()) g.flags |= it->second;
    if (kind == "hvbench") g.args = o.hvbench_args;
    if (auto it = o.guest_args.find(guests.size()); it != o.guest_args.end()) g.args = it->second;
    std::string manifest_path;
    if (parts.size() >= 2) {  // a guest signed elsewhere
      manifest_path = fs::absolute(parts[1]).string();
      g.manifest = read_file(manifest_path, input::kGuestManifest);
      if (parts.size() == 3) g.initrd = read_file(fs::absolute(parts[2]), input::kGuestInitrd);
      // Like a real loader, give the guest the RAM its manifest asks for (the
      // hypervisor checks it: memory_mismatch). A manifest that does not decode
      // keeps --ram-mib; the hypervisor refuses it by name.
      policy::CoseSign1 cose;
      policy::GuestManifest m;
      policy::Refusal why{};
      if (o.ram_from_manifest && policy::cose_sign1_parse(g.manifest, cose) && policy::guest_manifest_decode(cose.payload, m, why) &&
          m.memory_mib >= 4 && m.memory_mib % 2 == 0 && m.memory_mib <= 1024)
        g.ram_size = m.memory_mib << 20;
    } else if (!o.unsigned_guests) {
      policy::GuestManifestInput mi;
      mi.name = g.name;
      mi.version = "1.0.0";
      mi.svn = o.guest_svn;
      mi.memory_mib = ram_mib;
      mi.cmdline = o.cmdline;
      g.manifest = sign_guest_with_pki(need_pki(), g.image, nullptr, mi);
      manifest_path = (out_dir / "manifests" / (g.name + ".manifest")).string();
      write_file(manifest_path, g.manifest);
    }
    manifest_paths.push_back(manifest_path);
    guests.push_back(std::move(g));
    kinds.push_back(kind);
  }
  if (guests.empty()) throw std::invalid_argument("no guests to run");
  for (const std::string& spec : o.assign_devices) {
    std::string who;
    uint16_t id = 0;
    parse_device_assignment(spec, who, id);
    size_t at = guests.size();
    for (size_t i = 0; i < guests.size(); ++i)
      if (guests[i].name == who || std::to_string(i) == who) at = i;
    if (at == guests.size()) throw std::invalid_argument("--assign-device " + spec + ": no guest named " + who);
    if (guests[at].devices.size() >= sl::kMaxGuestDevices)
      throw std::invalid_argument("--assign-device " + spec + ": at most " + std::to_string(sl::kMaxGuestDevices) +
                                  " devices per guest");
    guests[at].devices.push_back(id);
  }

  std::vector<GuestArgsSpec> guest_args;
  for (const std::string& spec : o.guest_arg_specs) guest_args.push_back(parse_guest_args(spec));

  if (!o.unsigned_guests && o.pki.empty() && !pki.empty())
    say("[tool] signed " + std::to_string(guests.size()) + " guest(s) with the demo guest signer -> " +
        (out_dir / "manifests").string());
  std::unique_ptr<SimSvm> svm;
  sim::LaunchLayout layout;
  std::vector<sim::GuestPlacement> place;
  lo.on_vmrun = o.on_vmrun;
  std::unique_ptr<ExitTrace> trace;
  if (!o.trace_path.empty()) trace = std::make_unique<ExitTrace>(o.trace_path);
  std::unique_ptr<RunProgress> progress;
  if (o.progress) progress = std::make_unique<RunProgress>(guests.size());
  WorldSwitchFanout observers;
  observers.add(trace.get());
  observers.add(progress.get());
  if (!observers.empty()) lo.observer = &observers;
  const Say say_on = !progress ? say : Say([&say, &progress](const std::string& l) {
    progress->console_line(l);
    say(l);
  });
  lo.before_launch = [&](sim::Machine& m, sim::LaunchInputs& in) {
    if (lo.engine == "native") {  // native-sl and full-system: hv.bin's own VMRUN
      svm = std::make_unique<SimSvm>(m, o);
      svm->observer = lo.observer;
    }
    layout = in.layout;
    place = sim::place_guests(in.layout, guests);
    // The probe attacks: hypervisor memory, the first other guest's RAM, TPM locality 2.
    for (size_t i = 0; i < guests.size(); ++i) {
      if (kinds[i] == "probe") {
        uint64_t other = 0;
        for (size_t j = 0; j < guests.size(); ++j)
          if (j != i) {
            other = place[j].ram_pa;
            break;
          }
        guests[i].args = {layout.hv_memory, other, 0xFED40000ull + 0x1000ull * 2, o.probe_first};
      }
    }
    // --guest-args: host-physical addresses resolved now that the loader placed everything.
    for (const GuestArgsSpec& a : guest_args) {
      auto index_of = [&](const std::string& who) {
        for (size_t i = 0; i < guests.size(); ++i)
          if (guests[i].name == who || std::to_string(i) == who) return i;
        throw std::invalid_argument("--guest-args: no guest named " + who);
      };
      const size_t i = index_of(a.guest);
      for (size_t k = 0; k < a.values.size(); ++k) {
        const GuestArgsSpec::Value& v = a.values[k];
        const uint64_t base = v.symbol.empty()          ? 0
                              : v.symbol == "hv-image"  ? layout.hv_image
                              : v.symbol == "hv-memory" ? layout.hv_memory
                              : v.symbol == "slb"       ? layout.slb_base
                                                        : place[index_of(v.ram_of)].ram_pa;
        guests[i].args[k] = base + v.offset;
      }
    }
    in.guests = guests;
    in.svm = svm.get();
  };
  lo.after_launch = [&](sim::Machine& m, const sim::LaunchReport& r, const EngineView& engine) {
    res.hv_memory_pa = layout.hv_memory;
    res.hv_memory_size = layout.hv_memory_size;
    res.hv_image_pa = layout.hv_image;
    res.slb_base = layout.slb_base;
    if (!r.hypervisor_entered) return;
    if (o.after_run) o.after_run(m);
    const uint8_t* raw = m.mem().map(layout.hv_memory, sizeof(hv::RunRecord));
    hv::RunRecord rec;
    std::memcpy(&rec, raw, sizeof rec);
    if (std::memcmp(rec.magic, hv::kRunRecordMagic, 8) != 0) return;
    res.ran = true;
    res.hv_status = std::string(rec.status, strnlen(rec.status, sizeof rec.status));
    res.hv_pages_used = rec.hv_pages_used;
    res.hv_failed = rec.hv_failed != 0;
    res.hv_failure = std::string(rec.failure, strnlen(rec.failure, sizeof rec.failure));
    res.scrub_done = rec.scrub_done != 0;
    res.scrubbed_guest_bytes = rec.scrubbed_guest_bytes;
    res.scrubbed_hv_bytes = rec.scrubbed_hv_bytes;
    res.scrubbed_slb_bytes = rec.scrubbed_slb_bytes;
    res.scrub_skipped = rec.scrub_skipped;
    res.slices = rec.slices;
    res.hv_test_flags = rec.test_flags;
    static const sim::cpu::Counters kNone{};  // QEMU: no simulated CPU counted anything
    const sim::cpu::Counters& counters = engine.counters ? *engine.counters : svm ? svm->cpu().counters() : kNone;
    std::map<uint64_t, EngineView::PerVmcb> per = engine.per_vmcb;
    if (svm)
      for (const auto& [pa, p] : svm->per_) per[pa] = {svm->ticks.seconds(p.ticks), p.walks, p.walk_refs, p.nested_refs};
    for (uint32_t i = 0; i < rec.guest_count && i < hv::kRecordGuests; ++i) {
      const hv::GuestRecord& g = rec.guests[i];
      GuestResult gr;
      gr.name = std::string(g.name, strnlen(g.name, sizeof g.name));
      gr.status = hv::guest_state_name(hv::GuestState(g.state));
      gr.reason = std::string(g.reason, strnlen(g.reason, sizeof g.reason));
      gr.exit_code = g.exit_code;
      gr.admission = g.admission == uint32_t(hv::Admission::signed_measured)     ? "signed"
                     : g.admission == uint32_t(hv::Admission::unsigned_measured) ? "unsigned"
                                                                                 : "refused";
      gr.refusal = std::string(g.refusal, strnlen(g.refusal, sizeof g.refusal));
      gr.signed_name = std::string(g.signed_name, strnlen(g.signed_name, sizeof g.signed_name));
      gr.version = std::string(g.version, strnlen(g.version, sizeof g.version));
      gr.svn = g.svn;
      gr.scrubbed = g.scrubbed != 0;
      if (i < manifest_paths.size()) gr.manifest_path = manifest_paths[i];
      gr.has_fault = hv::GuestState(g.state) == hv::GuestState::killed && g.fault_gpa != 0;
      gr.fault_gpa = g.fault_gpa;
      gr.fault_rip = g.fault_rip;
      gr.violation_count = g.violation_count;
      for (uint32_t k = 0; k < g.violation_count && k < hv::kMaxViolations; ++k) {
        const hv::Violation& v = g.violations[k];
        gr.violations.push_back({v.gpa, v.info, v.rip, access_name(v.info),
                                 v.action == uint32_t(hv::ViolationAction::killed) ? "killed" : "injected #PF"});
      }
      if (g.serial_len && g.serial_len <= g.serial_cap) {
        const uint8_t* s = m.mem().map(g.serial_pa, g.serial_len);
        if (s) gr.serial.assign(reinterpret_cast<const char*>(s), g.serial_len);
      }
      gr.ram_pa = g.ram_pa;
      gr.ram_size = g.ram_size;
      gr.vmcb_pa = g.vmcb_pa;
      gr.npt_root = g.npt_root;
      gr.asid = g.asid;
      for (uint32_t c = 0; c < hv::kExitCountSlots; ++c)
        if (g.exit_counts[c]) gr.exits[svm::exit_code_name(c)] += g.exit_counts[c];
      if (g.exits_npf) gr.exits["NPF"] = g.exits_npf;
      if (g.exits_other) gr.exits["OTHER"] = g.exits_other;
      gr.exits_total = g.exits_total;
      for (uint64_t k = 0; k < g.exit_trace_len && k < hv::kExitTrace; ++k)
        gr.exit_trace.push_back({g.exit_trace[k].code, g.exit_trace[k].info1});
      if (g.exit_digest_done) {
        gr.exit_digest_count = g.exit_digest_count;
        gr.exit_digest = policy::hex(std::span<const uint8_t>(g.exit_digest, 32));
      }
      for (uint32_t k = 0; k < g.device_count && k < 3; ++k) gr.devices.push_back({g.device_ids[k], g.device_bars[k]});
      gr.paging = g.paging == 1 ? "shadow" : "nested";
      if (g.paging == 1)
        gr.shadow = {{"fills", g.shadow_fills},           {"guest_faults_reflected", g.shadow_guest_faults},
                     {"flushes", g.shadow_flushes},       {"invlpg", g.shadow_invlpgs},
                     {"walk_refs", g.shadow_walk_refs},   {"p2m_refs", g.shadow_p2m_refs},
                     {"recycles", g.shadow_recycles},     {"dirty_upgrades", g.shadow_dirty_upgrades},
                     {"pages_peak", g.shadow_pages_peak}, {"pool_pages", g.shadow_pool_pages}};
      gr.vmruns = g.vmruns;
      gr.hypercalls = g.hypercalls;
      gr.timer_irqs = g.timer_irqs_injected;
      gr.run_ticks = g.run_ticks;
      if (auto it = counters.per_asid.find(g.asid); it != counters.per_asid.end()) {
        gr.instructions = it->second.instructions;
        gr.tlb_hits = it->second.tlb_hits;
        gr.tlb_misses = it->second.tlb_misses;
      }
      if (auto it = per.find(g.vmcb_pa); it != per.end()) {
        gr.walks = it->second.walks;
        gr.walk_refs = it->second.walk_refs;
        gr.npt_walk_refs = it->second.nested_refs;
        gr.host_seconds = it->second.seconds;
      }
      res.guests.push_back(std::move(gr));
    }
  };

  const auto t0 = Clock::now();
  res.launch = run_launch_job(lo, tpm, say_on);
  res.host_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (trace) trace->finish();
  res.hv_image_size = o.launch.hypervisor.empty() ? fs::file_size(build_dir() / "hv.bin") : fs::file_size(o.launch.hypervisor);

  // Artefacts.
  const fs::path out = res.launch.out_dir;
  json guests_json = json::array(), stats = json::object();
  for (const GuestResult& g : res.guests) {
    const fs::path serial = out / ("serial-" + g.name + ".txt");
    write_text(serial, g.serial);
    json j = {{"name", g.name},          {"status", g.status},         {"reason", g.reason},
              {"exit_code", g.exit_code}, {"serial", serial.string()}, {"asid", g.asid},
              {"ram", {{"base", hx(g.ram_pa)}, {"size", g.ram_size}}}};
    j["admission"] = g.admission;
    j["scrubbed"] = g.scrubbed;
    if (g.admission == "refused") j["refusal"] = g.refusal;
    if (g.admission == "signed")
      j["signed"] = {{"name", g.signed_name}, {"version", g.version}, {"svn", g.svn}, {"manifest", g.manifest_path}};
    if (g.has_fault) {
      j["fault_address"] = hx(g.fault_gpa);
      j["fault_rip"] = hx(g.fault_rip);
    }
    json vs = json::array();
    for (const Violation& v : g.violations)
      vs.push_back({{"address", hx(v.gpa)}, {"access", v.access}, {"action", v.action}, {"rip", hx(v.rip)},
                    {"exitinfo1", hx(v.info)}});
    j["violations"] = vs;
    j["violation_count"] = g.violation_count;
    // Devices the hypervisor assigned (docs/dma.md "Device assignment"): each in I/O domain
    // guest id + 1, mapping IOVA = GPA over this guest's RAM only; BAR0 in its NPT at GPA = PA.
    json devs = json::array();
    for (const auto& [id, bar] : g.devices) {
      char bdf[16];
      snprintf(bdf, sizeof bdf, "%02x:%02x.%x", id >> 8, (id >> 3) & 31, id & 7);
      devs.push_back({{"device", bdf},
                      {"bar0_gpa", hx(bar)},
                      {"iova", res.hv_test_flags & hv::kHvTestDmaMapsHost
                                   ? "GPA over this guest's RAM, and TEST ONLY host-physical [RAM size, 256 MiB)"
                                   : "GPA, this guest's RAM only"}});
    }
    j["devices"] = devs;
    j["paging"] = g.paging;
    guests_json.push_back(j);
    json exits = json::object();
    for (const auto& [k, v] : g.exits) exits[k] = v;
    stats[g.name] = {{"exits", exits},
                     {"exits_total", g.exits_total},
                     {"vmruns", g.vmruns},
                     {"instructions_retired", g.instructions},
                     {"tlb_hits", g.tlb_hits},
                     {"tlb_misses", g.tlb_misses},
                     {"page_walks", g.walks},
                     {"walk_refs", g.walk_refs},
                     {"npt_walk_refs", g.npt_walk_refs},
                     {"hypercalls", g.hypercalls},
                     {"timer_irqs_injected", g.timer_irqs},
                     {"guest_tsc_ticks", g.run_ticks},
                     {"host_seconds_in_vmrun", g.host_seconds},
                     {"paging", g.paging}};
    if (!g.shadow.empty()) stats[g.name]["shadow"] = g.shadow;
    // The guest's first #VMEXITs in order, host-timer exits left out (hypervisor/core/run_record.hpp):
    // what the sim-vs-QEMU differential test compares.
    json trace = json::array();
    for (const auto& [code, info1] : g.exit_trace) trace.push_back({{"code", svm::exit_code_name(code)}, {"info1", hx(info1)}});
    stats[g.name]["exit_trace"] = trace;
    // The whole non-INTR sequence: how many exits and SHA-256 over each (EXITCODE, EXITINFO1 with
    // IOIO bits 12:7 cleared) as two little-endian u64s (hypervisor/core/run_record.hpp).
    if (!g.exit_digest.empty())
      stats[g.name]["exit_digest"] = {{"count", g.exit_digest_count}, {"sha256", g.exit_digest},
                                      {"normalised", "IOIO EXITINFO1 bits 12:7 cleared"}};
  }
  res.run_json = {{"status", res.launch.report.launched ? "ran" : "refused"},
                  {"launch", res.launch.launch_json},
                  {"hypervisor", {{"status", res.hv_status},
                                  {"memory", {{"base", hx(res.hv_memory_pa)}, {"size", res.hv_memory_size}}},
                                  {"pages_used", res.hv_pages_used},
                                  {"slices", res.slices},
                                  {"failed", res.hv_failed},
                                  {"failure", res.hv_failure},
                                  {"test_flags", hx(res.hv_test_flags)},
                                  {"scrub", {{"done", res.scrub_done},
                                             {"guest_bytes", res.scrubbed_guest_bytes},
                                             {"hypervisor_bytes", res.scrubbed_hv_bytes},
                                             {"slb_bytes", res.scrubbed_slb_bytes},
                                             {"ranges_skipped", res.scrub_skipped}}}}},
                  {"launch_policy", policy_source},
                  {"paging", o.paging},
                  {"guests", guests_json},
                  {"host_seconds", res.host_seconds}};
  res.stats_json = {{"guests", stats}, {"host_seconds", res.host_seconds}};
  res.stats_json["engine"] = lo.engine;
  res.stats_json["paging"] = o.paging;
  if (trace) {
    res.stats_json["trace"] = {{"path", fs::absolute(o.trace_path).string()},
                               {"format", trace->format() == ExitTrace::Format::csv ? "csv" : "jsonl"},
                               {"records", trace->records()}};
    res.run_json["trace"] = res.stats_json["trace"];
  }
  write_text(out / "run.json", res.run_json.dump(2) + "\n");
  write_text(out / "stats.json", res.stats_json.dump(2) + "\n");
  return res;
}

std::string format_stats_table(const RunResult& r) {
  std::string s;
  char line[512];
  snprintf(line, sizeof line, "%-10s %-7s %12s %10s %8s %10s %10s %12s %12s %6s %6s %6s %6s %6s\n", "guest",
           "status", "instr", "exits", "vmruns", "tlb_hit", "tlb_miss", "walk_refs", "npt_refs", "IOIO", "CPUID",
           "VMMC", "NPF", "INTR");
  s += line;
  for (const GuestResult& g : r.guests) {
    auto ex = [&](const char* k) {
      auto it = g.exits.find(k);
      return static_cast<unsigned long long>(it == g.exits.end() ? 0 : it->second);
    };
    snprintf(line, sizeof line, "%-10s %-7s %12llu %10llu %8llu %10llu %10llu %12llu %12llu %6llu %6llu %6llu %6llu %6llu\n",
             g.name.c_str(), g.status.c_str(), (unsigned long long)g.instructions, (unsigned long long)g.exits_total,
             (unsigned long long)g.vmruns, (unsigned long long)g.tlb_hits, (unsigned long long)g.tlb_misses,
             (unsigned long long)g.walk_refs, (unsigned long long)g.npt_walk_refs, ex("IOIO"), ex("CPUID"),
             ex("VMMCALL"), ex("NPF"), ex("INTR"));
    s += line;
  }
  return s;
}

}  // namespace redoubt::tools
