#include "platform/sim/full_system.hpp"

#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "abi/launch_outcome.hpp"
#include "abi/slb_layout.hpp"
#include "arch/intel/txt_secrets.hpp"
#include "platform/hal/status.hpp"
#include "platform/sim/devices/intel_vtd.hpp"
#include "platform/sim/vmx/vmx_caps.hpp"

namespace redoubt::sim {
namespace {

std::string hex(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

const char* vector_name(uint8_t v) {
  static const char* names[] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
                                "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP"};
  return v < sizeof names / sizeof *names ? names[v] : "#?";
}

}  // namespace

FullSystem::FullSystem(Machine& m, TpmDevice& tpm, ConsoleSink sink, FullSystemOptions opt)
    : m_(m), tpm_(tpm), sink_(std::move(sink)), opt_(opt) {
  cpu_ = std::make_unique<cpu::Cpu>(m.mem());
  svm_ = std::make_unique<svm::HostSvm>(*cpu_, m.mem());
  if (opt_.intel_cpu) vmx_ = std::make_unique<vmx::VmxCpu>(*cpu_, m.mem());
  if (opt_.is_intel_platform()) {
    cpu_->smx = true;  // CPUID.1:ECX.SMX, CR4.SMXE writable (SDM vol. 2D ch. 7)
    vmx_->set_feature_control(vmx::kFeatureControlTxtFirmware);  // as a TXT platform's firmware leaves it
  }
  cpu_->ports = &bus_;
  cpu_->mmio = &bus_;
  attach_devices();
}

FullSystem::~FullSystem() {
  vmx_.reset();  // detaches from the CPU before it goes
  if (m_.dma().remapper() == iommu_.get() || m_.dma().remapper() == vtd_.get()) m_.dma().set_remapper(nullptr);
}

AmdIommu& FullSystem::iommu() {
  if (!iommu_) throw std::logic_error("FullSystem: an Intel machine has no AMD-Vi (see vtd())");
  return *iommu_;
}

void FullSystem::console_byte(uint8_t b) {
  const char ch = char(b);
  if (ch == '\n') {
    if (!hv_line_seen_ && line_.rfind("[hv]", 0) == 0) {
      hv_line_seen_ = true;
      hv_first_line_ = std::chrono::steady_clock::now();
      hv_first_line_icount_ = cpu_->icount;
    }
    // REDOUBT_SIM_ICOUNT=1: each console line carries the instructions retired so far
    // (where the SL's and hypervisor's interpreted time goes: docs/simulator-cpu.md).
    static const bool with_icount = std::getenv("REDOUBT_SIM_ICOUNT") != nullptr;
    sink_(with_icount ? "{" + std::to_string(cpu_->icount) + "} " + line_ : line_);
    line_.clear();
  } else if (ch != '\r') {
    line_ += ch;
  }
}

void FullSystem::attach_devices() {
  uart_ = std::make_unique<Uart16550>([this](uint8_t b) { console_byte(b); });
  harness_uart_ = std::make_unique<Uart16550>([this](uint8_t b) { harness_channel_.push_back(b); }, arch::uart::kCom2);
  debug_exit_ = std::make_unique<DebugExit>([this](uint32_t status) {
    exit_status_ = int(status);
    cpu_->request_stop(cpu::Stop::poweroff);
  });
  tis_ = std::make_unique<TpmTis>(tpm_);
  lapic_ = std::make_unique<LocalApic>([this] { return cpu_->icount; });
  pci_ = std::make_unique<PciConfigPorts>();
  if (opt_.dma_remapping == FullSystemOptions::DmaRemapping::amd_vi) {
    dev_bridge_ = std::make_unique<AmdDevBridge>(m_.dev(), m_.mem());
    dev_bridge_->plug_into(*pci_);
    iommu_ = std::make_unique<AmdIommu>(m_.mem());
    iommu_->plug_into(*pci_);
    m_.dma().set_remapper(iommu_.get());  // every bus master goes through it (pass-through while off)
  } else {
    vtd_ = std::make_unique<IntelVtd>(m_.mem());
    m_.dma().set_remapper(vtd_.get());  // translation off and no PMR at reset: pass-through
  }
  for (size_t i = 0; i < opt_.dma_engines.size(); ++i) {
    const uint16_t id = opt_.dma_engines[i];
    char name[32];
    snprintf(name, sizeof name, "dma%zu@%02x:%02x.%x", i, id >> 8, (id >> 3) & 31, id & 7);
    const uint64_t bar = kDmaEngineWindow + i * abi::dma_engine::kBarSize;
    if (bar + abi::dma_engine::kBarSize > kDmaEngineWindow + kDmaEngineWindowSize)
      throw std::invalid_argument("FullSystem: more DMA engines than the BAR window holds");
    dma_engines_.push_back(std::make_unique<DmaEngine>(m_.dma(), name, id, uint32_t(bar)));
    dma_engines_.back()->plug_into(*pci_);
  }

  bus_.map_ports(
      "com1", arch::uart::kCom1, arch::uart::kPorts, [this](uint16_t p, unsigned n) { return uart_->in(p, n); },
      [this](uint16_t p, unsigned n, uint32_t v) { uart_->out(p, n, v); });
  bus_.map_ports(
      "com2-harness", arch::uart::kCom2, arch::uart::kPorts,
      [this](uint16_t p, unsigned n) { return harness_uart_->in(p, n); },
      [this](uint16_t p, unsigned n, uint32_t v) { harness_uart_->out(p, n, v); });
  bus_.map_ports(
      "debug-exit", abi::kDebugExitPort, 1, [this](uint16_t p, unsigned n) { return debug_exit_->in(p, n); },
      [this](uint16_t p, unsigned n, uint32_t v) { debug_exit_->out(p, n, v); });
  bus_.map_ports(
      "pci-config", 0xCF8, 8, [this](uint16_t p, unsigned n) { return pci_->in(p, n); },
      [this](uint16_t p, unsigned n, uint32_t v) { pci_->out(p, n, v); });
  bus_.map_mmio(
      "tpm-tis", TpmTis::kBase, TpmTis::kSize, [this](uint64_t off, unsigned n) { return tis_->mmio_read(off, n); },
      [this](uint64_t off, unsigned n, uint64_t v) { tis_->mmio_write(off, n, v); });
  // The reset-attack mitigation (platform/sim/reset.hpp): TXT's SECRETS registers, the flag in the Machine.
  bus_.map_mmio(
      "txt-private", arch::txt::kPrivateBase, arch::txt::kSpaceSize,
      [this](uint64_t off, unsigned n) { return m_.secrets().mmio_read(off, n); },
      [this](uint64_t off, unsigned n, uint64_t v) { m_.secrets().mmio_write(off, n, v, true); });
  bus_.map_mmio(
      "txt-public", arch::txt::kPublicBase, arch::txt::kSpaceSize,
      [this](uint64_t off, unsigned n) { return m_.secrets().mmio_read(off, n); },
      [this](uint64_t off, unsigned n, uint64_t v) { m_.secrets().mmio_write(off, n, v, false); });
  if (iommu_)
    bus_.map_mmio(
        "amd-iommu", iommu_->mmio_base(), AmdIommu::kMmioSize,
        [this](uint64_t off, unsigned n) { return iommu_->mmio_read(off, n); },
        [this](uint64_t off, unsigned n, uint64_t v) {
          if (on_iommu_mmio_write) on_iommu_mmio_write(off, n, v);
          iommu_->mmio_write(off, n, v);
        });
  if (vtd_)  // SINIT programs the PMRs here (TXT), the hypervisor's VT-d driver the rest
    bus_.map_mmio(
        "intel-vtd", vtd_->mmio_base(), IntelVtd::kMmioSize,
        [this](uint64_t off, unsigned n) { return vtd_->mmio_read(off, n); },
        [this](uint64_t off, unsigned n, uint64_t v) {
          if (on_iommu_mmio_write) on_iommu_mmio_write(off, n, v);
          vtd_->mmio_write(off, n, v);
        });
  bus_.map_mmio(
      "dma-engines", kDmaEngineWindow, kDmaEngineWindowSize,
      [this](uint64_t off, unsigned n) -> uint64_t {
        for (auto& e : dma_engines_)
          if (e->decodes(kDmaEngineWindow + off)) return e->mmio_read(kDmaEngineWindow + off - e->bar(), n);
        return n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;  // nothing decodes it: master abort, all ones
      },
      [this](uint64_t off, unsigned n, uint64_t v) {
        for (auto& e : dma_engines_)
          if (e->decodes(kDmaEngineWindow + off)) return e->mmio_write(kDmaEngineWindow + off - e->bar(), n, v);
      });
  bus_.map_mmio(
      "local-apic", LocalApic::kBase, LocalApic::kSize,
      [this](uint64_t off, unsigned n) { return lapic_->mmio_read(off, n); },
      [this](uint64_t off, unsigned n, uint64_t v) {
        lapic_->mmio_write(off, n, v);
        sync_timer();
      });
}

void FullSystem::sync_timer() {
  // One-shot timer as the hypervisor uses it (docs/devices.md): the CPU model
  // raises its interrupt line at the deadline and consumes it when delivered.
  cpu::Cpu& c = *cpu_;
  if (auto d = lapic_->next_deadline()) {
    c.timer_armed = true;
    c.timer_deadline = *d;
    c.timer_vector = uint8_t(lapic_->mmio_read(arch::lapic::kLvtTimer, 4) & 0xFF);
  } else {
    c.ack_intr();
  }
}

void FullSystem::enter_from_skinit(const CpuState& s) {
  cpu::Cpu& c = *cpu_;
  c.gpr[cpu::RAX] = s.rax;
  c.gpr[cpu::RBX] = s.rbx;
  c.gpr[cpu::RCX] = s.rcx;
  c.gpr[cpu::RDX] = s.rdx;
  c.gpr[cpu::RSI] = s.rsi;
  c.gpr[cpu::RDI] = s.rdi;
  c.gpr[cpu::RBP] = s.rbp;
  c.gpr[cpu::RSP] = s.rsp;
  c.gpr[cpu::kRip] = s.rip;
  c.cr0 = s.cr0;
  c.cr3 = s.cr3;
  c.cr4 = s.cr4;
  c.efer = s.efer;
  c.dr7 = s.dr7;
  c.set_rflags(s.rflags);
  c.load_segment_cache(c.cs, s.cs);
  c.load_segment_cache(c.ss, s.ss);
  c.load_segment_cache(c.ds, s.ds);
  c.load_segment_cache(c.es, s.es);
  c.load_segment_cache(c.fs, s.fs);
  c.load_segment_cache(c.gs, s.gs);
  c.cpl = s.cpl;
  c.gif = s.gif;
  c.guest = false;
  c.asid = 0;
  c.flush_tlb_all_current();
  c.code_modified_externally();  // the loader wrote the images behind the CPU's back
}

cpu::Stop run_system(cpu::Cpu& c, svm::HostSvm& svm, uint64_t max_instructions, std::string* error,
                     vmx::VmxCpu* vmx) {
  if (vmx) {
    const uint64_t left = c.icount >= max_instructions ? 0 : max_instructions - c.icount;
    if (left == 0) return cpu::Stop::budget;
    try {
      return vmx->run(left);
    } catch (const cpu::CpuError& e) {
      // No VMEXIT_INVALID on VMX: a guest the model cannot execute ends the run, named.
      if (error) *error = std::string(vmx->in_guest() ? "in a VMX guest: " : "") + e.what();
      return cpu::Stop::shutdown;
    }
  }
  for (;;) {
    const uint64_t left = c.icount >= max_instructions ? 0 : max_instructions - c.icount;
    if (left == 0) return cpu::Stop::budget;
    cpu::Stop s;
    try {
      s = c.run(left);
    } catch (const cpu::CpuError& e) {
      if (svm.in_guest()) {  // a guest hit a limit of the model: only its run ends (VMEXIT_INVALID)
        svm.vmexit_invalid(e.what());
        continue;
      }
      if (error) *error = e.what();
      return cpu::Stop::shutdown;
    }
    if (s == cpu::Stop::vmexit && svm.in_guest()) {
      svm.vmexit();
      continue;
    }
    return s;
  }
}

cpu::Stop FullSystem::run() { return run_system(*cpu_, *svm_, opt_.max_instructions, &stop_error_, vmx_.get()); }

LaunchReport FullSystem::launch(const LaunchInputs& in) {
  LaunchReport r;
  r.mode = "full-system";
  if (vmx_) {  // SKINIT is AMD's; the Intel launch (GETSEC[SENTER]) is not built on this machine
    r.launched = false;
    r.stage = "loader";
    r.reason = "the simulated CPU is an Intel part: SKINIT does not exist there (no SENTER launch here yet)";
    return r;
  }
  const LaunchLayout& L = in.layout;
  auto refuse = [&r](const std::string& stage, const std::string& why) {
    r.launched = false;
    r.stage = stage;
    r.reason = why;
    return r;
  };
  if (std::string why = lay_out(m_, in, [&](const std::string& l) { sink_(l); }); !why.empty())
    return refuse("loader", why);
  r.slb_region = m_.mem().read(L.slb_base, sl::kSlbSize);

  CpuState& bsp = m_.bsp();
  sink_("[loader] SKINIT EAX=" + hex(bsp.rax));
  const auto t0 = std::chrono::steady_clock::now();
  SkinitResult sk = skinit(bsp, m_.aps(), m_.mem(), m_.dev(), tpm_, m_.config().skinit_supported);
  if (sk.fault) {
    r.fault = sk.fault;
    return refuse("skinit", "SKINIT raised " + sk.fault->name() + ": " + sk.fault->why);
  }
  r.slb_length = sk.length;
  r.slb_entry = sk.entry_offset;
  sink_("[cpu] SKINIT: SLB " + hex(sk.slb_base) + " DEV-protected, " + std::to_string(sk.length) +
        " bytes measured into PCR17 at locality 4, entry " + hex(bsp.rip) + "; executing sl.bin");

  tis_->set_established(true);  // TPM_ACCESS.tpmEstablishment after a DRTM sequence (PTP §6)
  enter_from_skinit(bsp);
  return run_launched(std::move(r), in, t0);
}

// After the DRTM instruction (SKINIT, or SENTER: full_system_txt.cpp): run sl.bin and hv.bin to the end.
LaunchReport FullSystem::run_launched(LaunchReport r, const LaunchInputs& in, std::chrono::steady_clock::time_point t0) {
  const LaunchLayout& L = in.layout;
  auto refuse = [&r](const std::string& stage, const std::string& why) {
    r.launched = false;
    r.stage = stage;
    r.reason = why;
    return r;
  };
  bool hv_seen = false;
  double hv_us = 0;
  const uint64_t hv_lo = L.hv_image, hv_hi = L.hv_image + in.hv_image.size();
  if (!svm_->on_world_switch) svm_->on_world_switch = [](uint64_t, bool) {};
  const cpu::Stop why = run();
  if (!line_.empty()) {
    sink_(line_);
    line_.clear();
  }
  r.exit_status = exit_status_;
  r.harness_channel = harness_channel_;
  r.host_instructions = cpu_->counters.per_asid[0].instructions;  // filled below from icount if absent

  // What the images reported (an output only; the PCRs are the evidence).
  abi::LaunchOutcome out{};
  if (const uint8_t* p = m_.mem().map(L.outcome, sizeof out)) std::memcpy(&out, p, sizeof out);
  const bool have_outcome = std::memcmp(out.magic, abi::kOutcomeMagic, 8) == 0;
  out.message[sizeof out.message - 1] = 0;
  if (have_outcome) {
    hv_seen = out.hv_entered != 0;
    const uint64_t used = std::min<uint64_t>(out.event_log_used, L.event_log_size);
    r.event_log = m_.mem().read(L.event_log, used);
  }
  r.hypervisor_entered = hv_seen;
  if (hv_seen && hv_line_seen_) {
    hv_us = std::chrono::duration<double, std::micro>(hv_first_line_ - t0).count();
    r.skinit_to_hv_us = hv_us;  // SKINIT (its SLB hash included) -> the hypervisor's first console line
    r.skinit_to_hv_instructions = hv_first_line_icount_;
  }

  auto stage_at = [&](uint64_t rip) -> std::string {
    if (rip >= L.slb_base && rip < L.slb_base + sl::kSlbSize) return "sl";
    if (rip >= hv_lo && rip < hv_hi) return "hypervisor";
    return hv_seen ? "hypervisor" : "sl";
  };
  const uint64_t rip = cpu_->gpr[cpu::kRip];
  switch (why) {
    case cpu::Stop::poweroff: break;
    case cpu::Stop::shutdown: {
      const cpu::HostFault& f = cpu_->first_host_fault;
      if (!stop_error_.empty() && !f.valid)
        return refuse(stage_at(rip), "the simulator cannot continue at RIP " + hex(rip) + ": " + stop_error_);
      if (f.valid) {
        r.fault = CpuFault{f.vector, f.error, std::string(vector_name(f.vector)) + " at RIP " + hex(f.rip)};
        r.fault_rip = f.rip;
        return refuse(stage_at(f.rip), std::string("triple fault: the CPU took ") + vector_name(f.vector) +
                                           (f.has_error ? "(" + hex(f.error) + ")" : std::string()) + " at RIP " +
                                           hex(f.rip) + (f.vector == 14 ? " (address " + hex(f.address) + ")" : "") +
                                           " and could not deliver it" +
                                           (stop_error_.empty() ? std::string() : " (" + stop_error_ + ")"));
      }
      return refuse(stage_at(rip), "triple fault at RIP " + hex(rip));
    }
    case cpu::Stop::halted:
      return refuse(stage_at(rip), "the CPU halted at RIP " + hex(rip) + " with nothing that could wake it, without powering off");
    case cpu::Stop::budget:
      return refuse(stage_at(rip), "no power-off after " + std::to_string(opt_.max_instructions) +
                                       " instructions (a hang); RIP " + hex(rip));
    default:
      return refuse(stage_at(rip), "the CPU stopped unexpectedly at RIP " + hex(rip));
  }
  // Powered off by the images: their own account of the outcome.
  if (!have_outcome) return refuse("sl", "powered off (status " + std::to_string(exit_status_) + ") without a launch outcome record");
  const auto status = abi::ExitStatus((exit_status_ - 1) >> 1);
  std::string msg = std::string(err_name(Err(out.err))) + ": " + out.message;
  if (status == abi::ExitStatus::launch_refused || !hv_seen) return refuse("sl", msg);
  if (status != abi::ExitStatus::ok || out.err != 0) return refuse("hypervisor", msg);
  r.launched = true;
  r.stage = "hypervisor";
  return r;
}

}  // namespace redoubt::sim
