#include "platform/fake/launch.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>

#include "abi/slb_layout.hpp"
#include "sl/secure_loader.hpp"

namespace redoubt::sim {
namespace {

std::string hex(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

LaunchReport refuse(LaunchReport r, const std::string& stage, const std::string& why) {
  r.launched = false;
  r.stage = stage;
  r.reason = why;
  r.mode = "native";
  return r;
}

}  // namespace

LaunchReport measured_launch(Machine& m, TpmDevice& tpm, const LaunchInputs& in, const ConsoleSink& sink) {
  LaunchReport r;
  const LaunchLayout& L = in.layout;
  auto say = [&](const std::string& s) { sink("[loader] " + s); };

  if (std::string why = lay_out(m, in, [&](const std::string& l) { sink(l); }); !why.empty())
    return refuse(r, "loader", why);
  r.mode = "native";
  CpuState& bsp = m.bsp();
  r.slb_region = m.mem().read(L.slb_base, sl::kSlbSize);

  say("SKINIT EAX=" + hex(bsp.rax));
  auto t0 = std::chrono::steady_clock::now();
  SkinitResult sk = skinit(bsp, m.aps(), m.mem(), m.dev(), tpm, m.config().skinit_supported);
  if (sk.fault) {
    r.fault = sk.fault;
    return refuse(r, "skinit", "SKINIT raised " + sk.fault->name() + ": " + sk.fault->why);
  }
  r.slb_length = sk.length;
  r.slb_entry = sk.entry_offset;
  sink("[cpu] SKINIT: SLB " + hex(sk.slb_base) + " DEV-protected, " + std::to_string(sk.length) +
       " bytes measured into PCR17 at locality 4, entry " + hex(bsp.rip));

  SimPlatform platform(m, tpm, sink);
  if (in.svm) platform.set_svm(in.svm);
  if (in.hypervisor_runner) platform.set_hypervisor_runner(in.hypervisor_runner);
  platform.set_hv_test_flags(in.hv_test_flags);
  sl::Outcome o;
  try {
    o = sl::secure_loader_main(platform, bsp.rax);
  } catch (const std::exception& e) {  // SimHalt, or the CPU model giving up (cpu::CpuError)
    if (platform.handoff()) r.event_log = m.mem().read(L.event_log, platform.handoff()->event_log_used);
    r.hypervisor_entered = platform.hypervisor_entered();
    return refuse(r, r.hypervisor_entered ? "hypervisor" : "sl", std::string("the CPU stopped: ") + e.what());
  }
  r.event_log = m.mem().read(L.event_log, o.event_log_used);
  r.hypervisor_entered = platform.hypervisor_entered();
  if (r.hypervisor_entered)
    r.skinit_to_hv_us = std::chrono::duration<double, std::micro>(platform.hv_entry_time() - t0).count();
  std::string why = std::string(err_name(o.reason.code())) + ": " + o.reason.message();
  if (!o.launched) return refuse(r, "sl", why);
  if (!o.reason) return refuse(r, "hypervisor", why);
  r.launched = true;
  r.stage = "hypervisor";
  return r;
}

}  // namespace redoubt::sim
