#include "tools/launch_qemu.hpp"

#include <algorithm>
#include <cstring>

#include "abi/launch_outcome.hpp"
#include "abi/slb_layout.hpp"
#include "platform/qemu/host/boot_image.hpp"
#include "platform/qemu/host/evidence_dump.hpp"
#include "platform/sim/machine.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {

namespace {
std::string hx(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}
std::string tail(const std::string& s, size_t n = 600) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }
}  // namespace

sim::LaunchReport launch_on_qemu(sim::Machine& m, const sim::LaunchInputs& in, const QemuLaunchOptions& o,
                                 const sim::ConsoleSink& sink, qemu::QemuRun* run_out) {
  sim::LaunchReport r;
  r.mode = "full-system";  // the measured images execute (on QEMU's CPU)
  r.platform = "qemu";
  r.drtm = "harness-emulated";
  const sim::LaunchLayout& L = in.layout;
  auto refuse = [&r](const std::string& stage, const std::string& why) {
    r.launched = false;
    r.stage = stage;
    r.reason = why;
    return r;
  };
  if (std::string why = sim::lay_out(m, in, [&](const std::string& l) { sink(l); }); !why.empty())
    return refuse("loader", why);
  r.slb_region = m.mem().read(L.slb_base, sl::kSlbSize);
  sl::SlbHeader h;
  std::memcpy(&h, r.slb_region.data(), sizeof h);
  r.slb_length = h.length;
  r.slb_entry = h.entry_offset;

  // Everything the loader wrote lies in [SLB, end of guest RAM); QEMU's RAM starts zeroed.
  const uint64_t top = std::min<uint64_t>(m.mem().size(), 512ull << 20) & ~uint64_t{4095};
  const std::vector<uint8_t> image = qemu::make_boot_image(m, L.slb_base, 0x01000000, top);
  sink("[qemu] boot image: " + std::to_string(image.size()) + " bytes from the simulator's loader layout");

  qemu::QemuOptions qo;
  qo.boot_stub = build_dir() / "boot_stub.bin";
  qo.tpm_socket = o.tpm_socket;
  qo.extra_args = o.extra_args;
  qo.stub_args = o.stub_args;
  qo.timeout_s = o.timeout_s;
  qemu::QemuRun run = qemu::run_qemu(qo, image, o.drtm, [&](std::string_view l) { sink(std::string(l)); });
  r.harness_channel = run.harness_channel;
  r.exit_status = run.qemu_exit;
  if (run_out) *run_out = run;

  if (run.timed_out) return refuse("sl", "QEMU did not power off within " + std::to_string(o.timeout_s) + " s (a hang)");
  if (!run.skinit_requested)
    return refuse("loader", "QEMU exited (status " + std::to_string(run.qemu_exit) +
                                ") before the boot stub's SKINIT request: " + tail(run.qemu_stderr + run.console));
  if (!run.drtm_done) return refuse("skinit", "the harness could not make SKINIT's measurement: " + run.drtm_error);
  std::string why;
  auto dump = qemu::parse_evidence_dump(run.harness_channel, &why);
  if (!dump)
    return refuse("sl", "QEMU exited (status " + std::to_string(run.qemu_exit) + ") without evidence: " + why + "; " +
                            tail(run.qemu_stderr));
  for (const qemu::DumpRegion& d : dump->regions) {
    if (!m.mem().contains(d.pa, d.bytes.size()))
      return refuse("sl", "evidence dump region " + hx(d.pa) + " (+" + hx(d.bytes.size()) + ") is outside RAM");
    m.mem().write(d.pa, d.bytes);
  }

  abi::LaunchOutcome out{};
  if (const uint8_t* p = m.mem().map(L.outcome, sizeof out)) std::memcpy(&out, p, sizeof out);
  const bool have_outcome = std::memcmp(out.magic, abi::kOutcomeMagic, 8) == 0;
  out.message[sizeof out.message - 1] = 0;
  if (!have_outcome) return refuse("sl", "powered off (status " + std::to_string(run.qemu_exit) + ") without a launch outcome record");
  r.hypervisor_entered = out.hv_entered != 0;
  const uint64_t used = std::min<uint64_t>(out.event_log_used, L.event_log_size);
  r.event_log = m.mem().read(L.event_log, used);
  if ((run.qemu_exit & 1) == 0)
    return refuse(r.hypervisor_entered ? "hypervisor" : "sl",
                  "QEMU stopped with status " + std::to_string(run.qemu_exit) + " (not a power-off through the debug-exit port)");
  const auto status = abi::ExitStatus((run.qemu_exit - 1) >> 1);
  const std::string msg = std::string(err_name(Err(out.err))) + ": " + out.message;
  if (status == abi::ExitStatus::launch_refused || !r.hypervisor_entered) return refuse("sl", msg);
  if (status != abi::ExitStatus::ok || out.err != 0) return refuse("hypervisor", msg);
  r.launched = true;
  r.stage = "hypervisor";
  return r;
}

}  // namespace redoubt::tools
