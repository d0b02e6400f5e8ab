#include "tools/launch_job.hpp"
#include "tools/research/world_switch_observer.hpp"

#include <tss2/tss2_esys.h>

#include <cstdio>
#include <optional>

#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <span>

#include "abi/bare_hv_entry.hpp"
#include "abi/slb_layout.hpp"
#include "platform/fake/launch.hpp"
#include "platform/fake/measured_hv.hpp"
#include "platform/sim/full_system.hpp"
#include "platform/sim/machine.hpp"
#include "policy/host/host_io.hpp"
#include "tools/native_images.hpp"
#include "policy/host/hv_manifest_build.hpp"
#include "policy/host/keys.hpp"
#include "tools/cli_numbers.hpp"
#include "tools/common.hpp"
#include "tools/demo_keys.hpp"
#include "policy/fs/eventlog.hpp"
#include "policy/host/drtm_marker.hpp"
#include "tools/launch_qemu.hpp"
#include "tpm/swtpm_bridge_tpm.hpp"
#include "tools/slb_image.hpp"
#include "tools/tpm_session.hpp"
#include "tools/txt_setup.hpp"
#include "arch/intel/sinit_errors.hpp"

namespace redoubt::tools {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// --platform qemu: QEMU's TPM TIS on the bridge's swtpm; SKINIT's measurement through the bridge
// while QEMU is attached (tpm/swtpm_qemu_bridge.hpp).
QemuLaunchOptions qemu_launch_options(tpm::TpmDevice& tpm) {
  auto* bt = dynamic_cast<tpm::SwtpmBridgeTpm*>(&tpm);
  if (!bt) throw std::invalid_argument("--platform qemu needs its own swtpm (the QEMU bridge): leave --tpm out");
  QemuLaunchOptions q;
  q.tpm_socket = bt->bridge().qemu_socket_path();
  q.drtm = [bt](std::span<const uint8_t> b) { bt->bridge().drtm_hash(b.data(), b.size()); };
  return q;
}

std::string sha256_hex(const std::vector<uint8_t>& b) {
  uint8_t d[32];
  SHA256(b.data(), b.size(), d);
  return policy::hex(std::span<const uint8_t>(d, 32));
}

std::string hx(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace

std::vector<uint8_t> make_hv_test_image(std::vector<uint8_t> hv, uint64_t flags) {
  const auto* m = reinterpret_cast<const uint8_t*>(abi::kHvTestImageMagic);
  std::vector<size_t> at;
  for (auto it = hv.begin(); (it = std::search(it, hv.end(), m, m + sizeof abi::kHvTestImageMagic)) != hv.end(); ++it)
    at.push_back(size_t(it - hv.begin()));
  if (at.size() != 1)
    throw std::invalid_argument("hypervisor image: its test-switch block (abi::HvTestImage) occurs " + std::to_string(at.size()) +
                                " times, expected once: not an hv.bin built from these sources");
  if (at[0] + sizeof(abi::HvTestImage) > hv.size()) throw std::invalid_argument("hypervisor image: test-switch block truncated");
  abi::HvTestImage t;
  std::memcpy(&t, hv.data() + at[0], sizeof t);
  if (t.flags != 0) throw std::invalid_argument("hypervisor image: already a test image (switches " + hx(t.flags) + ")");
  t.flags = flags;
  std::memcpy(hv.data() + at[0], &t, sizeof t);
  return hv;
}

namespace {

// The native engine runs the SL and hypervisor compiled into this binary, so it
// may stand in for the measured images only when they are exactly the images
// built from the same sources: the SL compared with its key slots emptied (the
// keys are sealed per launch), the hypervisor byte for byte.
// The log of a launch that ended before the SL wrote one (a fault at its entry, a refusal
// before SKINIT): still a valid TCG log, never a 0-byte file. The Spec ID header names the
// TPM's banks (PFP §10.4.5.1); when SKINIT measured the SLB, event 0 says so, so the log
// replays to the PCR17 the TPM holds (docs/pcr-map.md).
std::vector<uint8_t> loader_written_log(const sim::LaunchReport& r, const PcrValues& pcrs, uint64_t slb_base) {
  BankList banks;
  for (const auto& [alg, v] : pcrs)
    if (banks.count < BankList::kMax) banks.alg[banks.count++] = alg;
  std::vector<uint8_t> buf(4096);
  policy::EventLogWriter log(buf.data(), buf.size());
  Status st = log.write_header(banks);
  const bool measured = r.stage == "sl" && r.slb_length && r.slb_length <= r.slb_region.size();
  if (st && measured) st = policy::append_skinit_slb_event(log, banks, slb_base, {r.slb_region.data(), r.slb_length});
  if (!st) throw std::runtime_error(std::string("event log: ") + st.message());
  buf.resize(log.size());
  return buf;
}

void require_native_sl_matches(const sim::LaunchInputs& in, const fs::path& sl_path) {
  if (!sim::check_slb_image(in.sl_image, in.layout.slb_base).empty()) return;  // the loader refuses it by name
  // The measured bytes SLB[0:length] (sl.bin's whole file; what lies beyond in a 64 KiB
  // SLB dump is not measured and not code), with the per-launch key slots emptied.
  const SlbInfo info = inspect_slb(in.sl_image);
  std::vector<uint8_t> sl(in.sl_image.begin(), in.sl_image.begin() + std::min<size_t>(info.length, in.sl_image.size()));
  for (uint16_t off : {info.key_slot_offset, info.owner_slot_offset})
    if (off && off + sizeof(sl::SlbKeySlot) <= sl.size()) std::memset(sl.data() + off + 8, 0, sizeof(sl::SlbKeySlot) - 8);
  if (sha256_hex(sl) != kBuiltSlSha256)
    throw std::invalid_argument("--engine native/native-sl: " + sl_path.string() +
                                " is not the sl.bin built with this redoubt binary; the native SL would run other "
                                "code than the image SKINIT measures (use --engine full-system)");
}

void require_native_sl2_matches(const sim::LaunchInputs& in, const fs::path& path) {
  if (sha256_hex(in.sl_stage2) != kBuiltSl2Sha256)
    throw std::invalid_argument("--engine native/native-sl: " + path.string() +
                                " is not the sl2.bin built with this redoubt binary; the native SL would run other "
                                "code than the stage 2 the SLB pins (use --engine full-system)");
}

void require_native_matches_images(const sim::LaunchInputs& in, const fs::path& sl_path, const fs::path& hv_path) {
  require_native_sl_matches(in, sl_path);
  if (sha256_hex(in.hv_image) != kBuiltHvSha256)
    throw std::invalid_argument("--engine native: " + hv_path.string() +
                                " is not the hv.bin built with this redoubt binary; the native engine would run other "
                                "code than the image it measures (use --engine native-sl or full-system)");
}

}  // namespace

LaunchJobResult run_launch_job(const LaunchOptions& o, tpm::TpmDevice& tpm_dev, const Say& say) {
  if (o.platform != "amd" && o.platform != "qemu" && o.platform != "intel")
    throw std::invalid_argument("--platform " + o.platform +
                                ": expected amd (the simulated AMD platform), intel (TXT SENTER on the simulator, docs/intel.md) "
                                "or qemu (QEMU TCG + swtpm, docs/qemu.md)");
  if (o.platform == "intel" && o.engine != "full-system")
    throw std::invalid_argument("--platform intel executes the measured images after GETSEC[SENTER]: --engine " + o.engine +
                                " exists only for SKINIT");
  if (o.platform == "qemu" && o.engine != "full-system")
    throw std::invalid_argument("--platform qemu executes the measured images: --engine " + o.engine +
                                " exists only on the simulator");
  const fs::path out = fs::absolute(o.out);
  const fs::path state = state_dir(o.state);
  fs::create_directories(out);

  // Inputs, with built-in defaults from the build directory and the demo key.
  const fs::path sl_path = o.sl.empty() ? build_dir() / "sl.bin" : fs::absolute(o.sl);
  const fs::path hv_path = o.hypervisor.empty() ? build_dir() / "hv.bin" : fs::absolute(o.hypervisor);
  sim::LaunchInputs in;
  in.sl_image = read_file(sl_path, input::kSlImage);
  in.hv_image = read_file(hv_path, input::kHvImage);
  // Stage 2 (pinned by sl.bin): --sl-stage2, else the sl2.bin next to --sl, else the build's.
  fs::path sl2_path;
  if (!o.sl_stage2.empty()) {
    sl2_path = fs::absolute(o.sl_stage2);
  } else {
    std::error_code ec;
    sl2_path = o.sl.empty() || !fs::exists(sl_path.parent_path() / "sl2.bin", ec) ? build_dir() / "sl2.bin"
                                                                                  : sl_path.parent_path() / "sl2.bin";
  }
  in.sl_stage2 = read_file(sl2_path, input::kHvImage);  // the hypervisor's size limit (stage 2 is checked at 1 MiB)
  in.layout.slb_base = parse_uint(o.slb_base, "--slb-base");
  in.svm_enabled = !o.sim_svm_off;
  in.aps_in_init = !o.sim_aps_running;

  // Test switches where the real SL runs (full-system, QEMU): sl.bin hands hv.bin a boot area
  // with flags = 0, so the switches go into a copy of hv.bin instead (abi::HvTestImage), a
  // different image with a digest of its own in PCR17/18 (docs/qemu.md "Test images").
  const bool test_image = o.hv_test_flags && (o.platform == "qemu" || o.engine == "full-system");
  fs::path test_image_path;
  if (test_image) {
    if (!o.manifest.empty())
      throw std::invalid_argument("a hypervisor test image (the --test-* switches on --engine full-system or --platform qemu) "
                                  "is signed here with the demo key: leave out --manifest");
    in.hv_image = make_hv_test_image(in.hv_image, o.hv_test_flags);
    test_image_path = out / "hv-test.bin";
    write_file(test_image_path, in.hv_image);
    say("[tool] TEST IMAGE: " + hv_path.string() + " with test switches " + hx(o.hv_test_flags) + " built in -> " +
        test_image_path.string() + " (measured as a different hypervisor; not a release image)");
  }

  // The key sealed into the SLB: --hv-key, else the image's own, else the demo key.
  fs::path key_path;
  std::optional<DemoKey> demo;
  if (o.manifest.empty()) demo = ensure_demo_key(state, say);  // the demo key signs the default manifest
  if (!o.hv_key.empty()) {
    key_path = fs::absolute(o.hv_key);
  } else if (!inspect_slb(in.sl_image).key) {
    if (!demo) demo = ensure_demo_key(state, say);
    key_path = demo->public_pem;
  }
  if (!key_path.empty()) {
    policy::EvpKey pub = policy::load_public_key(key_path.string());
    seal_slb(in.sl_image, policy::cose_public_key(pub));
  }

  fs::path manifest_path;
  if (!o.manifest.empty()) {
    manifest_path = fs::absolute(o.manifest);
    in.manifest = read_file(manifest_path, input::kHvManifest);
  } else {
    policy::EvpKey priv = policy::load_private_key(demo->private_pem.string());
    policy::HvManifestInput mi;
    mi.version = "0.1.0";
    mi.svn = 1;
    in.manifest = policy::sign_hv_manifest(in.hv_image, mi, priv);
    manifest_path = out / "hv.manifest";
    write_file(manifest_path, in.manifest);
    say("[tool] signed " + hv_path.string() + " with the demo key (version 0.1.0, SVN 1) -> " + manifest_path.string());
  }

  // The launch policy and the owner key that verifies it (sealed into the measured SLB).
  fs::path policy_path;
  if (!o.policy.empty()) {
    policy_path = fs::absolute(o.policy);
    in.launch_policy = read_file(policy_path, input::kLaunchPolicy);
  } else {
    in.launch_policy = o.policy_bytes;
  }
  if (!o.owner.empty()) {
    policy::EvpKey owner = policy::load_public_key(fs::absolute(o.owner).string());
    seal_slb_owner(in.sl_image, policy::cose_public_key(owner));
  } else if (!in.launch_policy.empty() && !inspect_slb(in.sl_image).owner) {
    throw std::invalid_argument("a launch policy needs the platform owner's public key (--owner) to seal into the SLB");
  }

  tpm::TpmDevice* tpm = &tpm_dev;
  ensure_svn_counter(*tpm, say);

  sim::Machine machine;
  if (o.before_launch) o.before_launch(machine, in);
  const sim::ConsoleSink sink = [&](std::string_view l) { say(std::string(l)); };
  sim::LaunchReport r;
  EngineView view;
  json qemu_json;
  json txt_json;                    // --platform intel: the ACM, the fuses, TXT.ERRORCODE
  std::vector<uint8_t> sinit_log;   // --platform intel: the log SINIT wrote
  in.hv_test_flags = test_image ? 0 : o.hv_test_flags;  // native, native-sl: the boot area carries them
  if (o.sim_intel_cpu && o.engine != "native-sl")
    throw std::invalid_argument("--test-sim-intel: only with --engine native-sl (for the real Intel launch use --platform intel)");
  if (o.engine == "native") {
    if (o.engine_checked) {
      require_native_matches_images(in, sl_path, hv_path);
      require_native_sl2_matches(in, sl2_path);
    }
    r = sim::measured_launch(machine, *tpm, in, sink);  // the caller's before_launch attaches the SVM model
    if (o.after_launch) o.after_launch(machine, r, view);
  } else if (o.engine == "native-sl") {
    require_native_sl_matches(in, sl_path);  // hv.bin runs for real: any hypervisor image is fine
    require_native_sl2_matches(in, sl2_path);
    sim::FullSystemOptions fso;
    if (o.max_instructions) fso.max_instructions = o.max_instructions;
    fso.intel_cpu = o.sim_intel_cpu;
    if (o.sim_intel_cpu)
      say("[tool] TEST ONLY: hv.bin runs on a simulated Intel CPU (VT-x with EPT, no SVM); the launch before it is "
          "the native SL's AMD-style one, so this is not an Intel (SENTER) launch");
    sim::MeasuredHypervisor hv(machine, *tpm, sink, in.layout, fso);
    hv.set_test_flags(o.hv_test_flags);
    if (o.on_system) o.on_system(hv.system());
    if (o.on_vmrun || o.observer)
      hv.system().svm().on_world_switch = [&](uint64_t vmcb, bool entering) {
        if (o.observer) o.observer->world_switch(hv.system().cpu(), machine.mem(), vmcb, entering, true);
        if (o.on_vmrun) o.on_vmrun(machine, vmcb, !entering);
      };
    in.svm = nullptr;
    in.hypervisor_runner = [&hv, &o, &machine](hal::HypervisorHandoff& ho) {
      if (o.on_hv_entry) o.on_hv_entry(machine, ho);
      return hv.enter(ho);
    };
    r = sim::measured_launch(machine, *tpm, in, sink);
    r.mode = "native-sl";
    view.counters = &hv.system().cpu().counters;
    for (const auto& [pa, p] : hv.system().svm().per_vmcb()) view.per_vmcb[pa] = {p.seconds, p.walks, p.walk_refs, p.nested_refs};
    if (o.after_launch) o.after_launch(machine, r, view);
  } else if (o.platform == "qemu") {
    if (o.observer) throw std::invalid_argument("--trace: QEMU's CPU is not observable from here (use the simulator)");
    QemuLaunchOptions qo = qemu_launch_options(*tpm);
    qo.extra_args = o.qemu_args;
    qo.stub_args = o.qemu_stub_args;
    qemu::QemuRun run;
    // QEMU powers the TPM on again (CMD_INIT when it realizes tpm-tis): the harness's session
    // (provisioning) ends first in order, like a machine that reboots, or every QEMU run would be a
    // TPM reset without TPM2_Shutdown and its quotes would carry clockInfo.safe = 0.
    if (tpm->esys()) Esys_Shutdown(tpm->esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_SU_CLEAR);
    r = launch_on_qemu(machine, in, qo, sink, &run);
    // QEMU exited: the harness takes the swtpm back, its PCRs as the run left them (no CMD_INIT).
    dynamic_cast<tpm::SwtpmBridgeTpm&>(*tpm).resume_after_qemu();
    if (!run.qemu_stderr.empty()) write_text(fs::absolute(o.out) / "qemu-stderr.txt", run.qemu_stderr);
    qemu_json = {{"command", run.command},
                 {"exit", run.qemu_exit},
                 {"seconds_total", run.seconds_total},
                 {"seconds_to_first_serial_byte", run.seconds_to_first_byte},
                 {"seconds_to_skinit_request", run.seconds_to_skinit},
                 {"skinit_bytes_match_layout",
                  run.skinit_measured.size() == r.slb_length &&
                      std::equal(run.skinit_measured.begin(), run.skinit_measured.end(), r.slb_region.begin())}};
    // The log says how PCR17's DRTM measurement was made (docs/attestation.md "Emulated DRTM").
    if (!r.event_log.empty() && r.drtm == "harness-emulated")
      r.event_log = policy::insert_emulated_drtm_marker(r.event_log, kQemuDrtmMarkerText);
    if (o.after_launch) o.after_launch(machine, r, view);
  } else if (o.engine == "full-system") {
    // --platform intel: the Intel TXT machine (VMX + SMX, VT-d; docs/intel.md "The Intel platform").
    sim::FullSystemOptions fso = o.platform == "intel" ? sim::FullSystemOptions::intel_platform() : sim::FullSystemOptions{};
    if (o.max_instructions) fso.max_instructions = o.max_instructions;
    sim::FullSystem system(machine, *tpm, sink, fso);
    if (o.on_system) o.on_system(system);
    if (o.on_vmrun || o.observer)
      system.svm().on_world_switch = [&](uint64_t vmcb, bool entering) {
        if (o.observer) o.observer->world_switch(system.cpu(), machine.mem(), vmcb, entering, true);
        if (o.on_vmrun) o.on_vmrun(machine, vmcb, !entering);
      };
    if (o.on_vmrun && system.vmx())  // VM entries and exits (the VMCS address in place of the VMCB's)
      system.vmx()->on_world_switch = [&](uint64_t vmcs, bool entering) { o.on_vmrun(machine, vmcs, !entering); };
    if (o.platform == "intel") {
      TxtSetup ts = txt_setup(state, o.acm, o.chipset_key, o.sinit_svn_floor, say);
      sim::TxtChipset chipset;
      chipset.fuses().acm_key_hash = ts.key_hash;
      chipset.fuses().sinit_svn_floor = ts.svn_floor;
      sim::TxtLaunchInputs txt;
      txt.acm = ts.acm;
      // PMRs over all RAM (what tboot asks for): the hypervisor's VT-d take-over needs every range it
      // is handed inside them until translation is on (platform/x86/drivers/vtd_handoff.hpp).
      txt.layout = sim::txt_layout_covering_ram(machine.config().ram_bytes);
      r = system.launch_txt(in, txt, chipset);
      // SINIT's part of the DRTM log (its TXT events): up to the log pointer element's NextRecordOffset.
      sinit_log = sim::sinit_log(machine, txt.layout);
      txt_json = {{"acm", ts.acm_source},
                  {"acm_sha256", sha256_hex(ts.acm)},
                  {"sinit_svn_floor", ts.svn_floor},
                  {"errorcode", hx(chipset.read(arch::txt::kErrorCode))},
                  {"error", arch::txt::txt_error_name(chipset.last_error())}};
    } else {
      r = system.launch(in);
    }
    view.counters = &system.cpu().counters;
    for (const auto& [pa, p] : system.svm().per_vmcb()) view.per_vmcb[pa] = {p.seconds, p.walks, p.walk_refs, p.nested_refs};
    if (system.vmx())
      for (const auto& [pa, p] : system.vmx()->per_vmcs()) view.per_vmcb[pa] = {p.seconds, p.walks, p.walk_refs, p.nested_refs};
    if (o.after_launch) o.after_launch(machine, r, view);
  } else {
    throw std::invalid_argument("--engine " + o.engine + ": expected full-system, native-sl or native");
  }

  std::vector<uint32_t> pcr_list = {16, 17, 18, 19, 20, 21, 22, 23};
  tpm->set_locality(0);
  auto values = tpm->pcr_read(pcr_list);
  if (r.event_log.empty()) r.event_log = loader_written_log(r, values, in.layout.slb_base);
  json pj = pcrs_to_json(values);
  write_text(out / "pcrs.json", pj.dump(2) + "\n");
  json outputs = {{"pcrs", (out / "pcrs.json").string()}};
  if (!r.slb_region.empty()) {
    write_file(out / "slb.bin", r.slb_region);
    outputs["slb"] = (out / "slb.bin").string();
  }
  write_file(out / "eventlog.bin", r.event_log);
  outputs["eventlog"] = (out / "eventlog.bin").string();
  if (!sinit_log.empty()) {
    write_file(out / "sinit-eventlog.bin", sinit_log);
    outputs["sinit_eventlog"] = (out / "sinit-eventlog.bin").string();
  }

  json lj;
  lj["status"] = r.launched ? "launched" : "refused";
  lj["reason"] = r.launched ? "" : r.reason;
  lj["stage"] = r.stage;
  if (r.fault) {
    char rip[24];
    snprintf(rip, sizeof rip, "0x%llx", static_cast<unsigned long long>(r.fault_rip));
    lj["fault"] = r.fault->name();
    lj["fault_detail"] = {{"vector", r.fault->vector}, {"error_code", r.fault->error_code}, {"rip", rip},
                          {"stage", r.stage}};
  }
  lj["engine"] = r.mode;  // "full-system": the measured sl.bin/hv.bin executed; "native": platform/fake
  if (r.exit_status >= 0) lj["exit_status"] = r.exit_status;
  lj["platform"] = r.platform == "qemu" ? "qemu" : o.platform == "intel" ? "intel" : "amd";
  if (!txt_json.is_null()) lj["txt"] = txt_json;
  // How PCR17's DRTM measurement was made: by SKINIT (the simulated CPU's), or by the
  // QEMU harness on the swtpm's control channel because QEMU has no SKINIT (docs/qemu.md).
  lj["drtm"] = r.drtm;
  if (!qemu_json.is_null()) lj["qemu"] = qemu_json;
  lj["tpm"] = tpm->describe();
  // A TPM manufactured for this launch (first use, or --new-tpm after its state was lost) has
  // fresh NV: its anti-rollback counters start again (docs/tpm-state.md).
  if (!o.tpm_state.is_null()) lj["tpm_state"] = o.tpm_state;
  lj["inputs"] = {{"sl", sl_path.string()},
                  {"hypervisor", hv_path.string()},
                  {"manifest", manifest_path.string()},
                  {"hv_key", key_path.empty() ? "sealed in the SL image" : key_path.string()},
                  {"launch_policy", !policy_path.empty()         ? policy_path.string()
                                    : in.launch_policy.empty()  ? std::string("none")
                                                                : std::string("generated (see run.json)")},
                  {"owner_key", o.owner.empty() ? std::string(in.launch_policy.empty() ? "none" : "sealed in the SL image")
                                                : fs::absolute(o.owner).string()},
                  {"state_dir", state.string()}};
  char base[24];
  snprintf(base, sizeof base, "0x%llx", static_cast<unsigned long long>(in.layout.slb_base));
  if (test_image)
    lj["hv_test_image"] = {{"flags", hx(o.hv_test_flags)},
                           {"path", test_image_path.string()},
                           {"sha256", sha256_hex(in.hv_image)},
                           {"built_from", hv_path.string()},
                           {"note", "TEST ONLY: hv.bin with test switches built in; PCR17 and the log's hypervisor image event "
                                    "name this image, not the release hv.bin: a verifier with the release reference values "
                                    "refuses it (hv_digest_not_allowed)"}};
  lj["slb"] = {{"base", base}, {"length", r.slb_length}, {"entry", r.slb_entry}};
  lj["hypervisor_entered"] = r.hypervisor_entered;
  if (r.hypervisor_entered) lj["skinit_to_hypervisor_us"] = r.skinit_to_hv_us;
  if (r.skinit_to_hv_instructions) lj["skinit_to_hypervisor_instructions"] = r.skinit_to_hv_instructions;
  lj["outputs"] = outputs;
  write_text(out / "launch.json", lj.dump(2) + "\n");
  outputs["launch"] = (out / "launch.json").string();

  LaunchJobResult res;
  res.report = std::move(r);
  res.pcrs = std::move(values);
  res.launch_json = std::move(lj);
  res.out_dir = out;
  return res;
}

}  // namespace redoubt::tools
