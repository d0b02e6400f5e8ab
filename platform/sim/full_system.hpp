// The full-system simulator: the machine that runs what is measured. The
// untrusted loader lays out RAM (loader.hpp), the BSP executes SKINIT (which
// measures the SLB into PCR17 at locality 4), and then the simulated CPU
// executes sl.bin from its entry in the state the APM defines; sl.bin runs
// hv.bin, whose own VMRUN runs the guests on the simulated SVM. The devices the
// images talk to (TPM TIS, DEV, 16550 UART, local APIC timer, debug-exit port)
// are on the bus, and so are the DMA-capable devices: an AMD-Vi IOMMU (00:02.0,
// MMIO 0xFED80000) between every bus master and memory, and DMA engines (PCI bus
// masters with requester IDs, BAR0 in the window at 0xFEB00000), present and
// assigned to nobody: the hypervisor chooses the DEV on this machine, so the
// IOMMU stays off (pass-through) unless something enables it. An Intel machine
// (FullSystemOptions::dma_remapping = vtd) has a VT-d unit at MMIO 0xFED90000
// instead, and neither the DEV nor AMD-Vi. The run ends when the images power the machine off, or with a
// fault, a triple fault or a hang, each reported as what it is.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "platform/sim/bus.hpp"
#include "platform/sim/devices/amd_dev.hpp"
#include "platform/sim/devices/amd_iommu.hpp"
#include "platform/sim/devices/debug_exit.hpp"
#include "platform/sim/devices/dma_engine.hpp"
#include "platform/sim/devices/lapic.hpp"
#include "platform/sim/devices/pci_config.hpp"
#include "platform/sim/devices/tpm_tis.hpp"
#include "platform/sim/devices/uart16550.hpp"
#include "platform/sim/cpu/cpu.hpp"
#include "platform/sim/loader.hpp"
#include "platform/sim/svm/host_svm.hpp"
#include "platform/sim/txt/txt_layout.hpp"
#include "platform/sim/vmx/vmx_cpu.hpp"

namespace redoubt::sim {

class IntelVtd;  // platform/sim/devices/intel_vtd.hpp (kept out of this header: most users never see it)

struct FullSystemOptions {
  // The run is a hang once this many instructions retired (host + guests) without a power-off.
  uint64_t max_instructions = 40'000'000'000ull;
  // DeviceIDs (bus << 8 | device << 3 | function) of the DMA engines, one BAR0 each at
  // kDmaEngineWindow + 8 KiB * i. Default: 00:04.0, 00:05.0 and 01:00.0.
  std::vector<uint16_t> dma_engines = {0x0020, 0x0028, 0x0100};
  // The DMA remapping hardware: AMD's (the DEV in the host bridge, AMD-Vi at 00:02.0) or
  // Intel's (a VT-d unit at 0xFED90000 whose PMRs TXT programs; no DEV, no AMD-Vi).
  enum class DmaRemapping : uint8_t { amd_vi, vtd };
  DmaRemapping dma_remapping = DmaRemapping::amd_vi;
  // The CPU is an Intel part (sim::vmx::VmxCpu attached: GenuineIntel with VMX and EPT, no SVM;
  // docs/intel.md). FullSystem::launch (SKINIT) refuses on it; launch_txt (GETSEC[SENTER]) runs.
  // Alone (with amd_vi) only the test engine native-sl uses it (MeasuredHypervisor hands hv.bin
  // its boot area directly); intel_platform() is the whole Intel machine.
  bool intel_cpu = false;

  // The Intel TXT platform (docs/intel.md "The Intel platform"): GenuineIntel with VMX and SMX
  // (no SVM, no SKINIT), IA32_FEATURE_CONTROL locked by firmware with VMX inside and outside
  // SMX and SENTER enabled, and the VT-d unit whose PMRs SENTER programs (no DEV, no AMD-Vi).
  static FullSystemOptions intel_platform(uint64_t max_instructions = 0) {
    FullSystemOptions o;
    if (max_instructions) o.max_instructions = max_instructions;
    o.intel_cpu = true;
    o.dma_remapping = DmaRemapping::vtd;
    return o;
  }
  bool is_intel_platform() const { return intel_cpu && dma_remapping == DmaRemapping::vtd; }
};

// Physical addresses the simulated host bridge forwards to the DMA engines' BARs
// (a BAR moved outside this window is not decoded).
inline constexpr uint64_t kDmaEngineWindow = 0xFEB00000;
inline constexpr uint64_t kDmaEngineWindowSize = 0x10000;

// Runs `c` from its current state until power-off, triple fault, an
// unrecoverable halt or max_instructions in total (c.icount), switching worlds
// at every #VMEXIT of a guest the host entered with VMRUN. A simulator limit
// (cpu::CpuError) ends the run as Stop::shutdown with *error set.
// With `vmx` (an Intel CPU) its run() completes every VM exit instead (SDM vol. 3C ch. 28).
cpu::Stop run_system(cpu::Cpu& c, svm::HostSvm& svm, uint64_t max_instructions, std::string* error,
                     vmx::VmxCpu* vmx = nullptr);

class FullSystem {
 public:
  FullSystem(Machine& m, TpmDevice& tpm, ConsoleSink sink, FullSystemOptions opt = {});
  ~FullSystem();
  FullSystem(const FullSystem&) = delete;
  FullSystem& operator=(const FullSystem&) = delete;

  // Lay out, SKINIT, execute until power-off, fault or hang.
  LaunchReport launch(const LaunchInputs& in);
  // Intel TXT (full_system_txt.cpp, docs/intel.md "The SL as MLE"): lay out, GETSEC[SENTER] with
  // the SINIT ACM in `txt` on `chipset`, then sl.bin runs as the MLE from SINIT's launch state.
  LaunchReport launch_txt(const LaunchInputs& in, const TxtLaunchInputs& txt, TxtChipset& chipset);

  cpu::Cpu& cpu() { return *cpu_; }
  Machine& machine() { return m_; }
  svm::HostSvm& svm() { return *svm_; }
  vmx::VmxCpu* vmx() { return vmx_.get(); }  // non-null on an Intel CPU (FullSystemOptions::intel_cpu)
  Bus& bus() { return bus_; }
  TpmTis& tis() { return *tis_; }
  // The DMA-capable devices, for the untrusted side of the harness (an attacker's
  // device, programmed through the same registers code in the machine would use).
  AmdIommu& iommu();               // AMD machines (throws std::logic_error on an Intel one)
  IntelVtd* vtd() { return vtd_.get(); }  // Intel machines; null on an AMD one
  DmaEngine& dma_engine(size_t i) { return *dma_engines_.at(i); }
  size_t dma_engine_count() const { return dma_engines_.size(); }
  PciConfigPorts& pci() { return *pci_; }
  // Test hook: called before every write to the IOMMU's (AMD-Vi's or VT-d's) MMIO registers takes effect (offset,
  // size, value), so a test can fire a DMA between two of the driver's register writes.
  std::function<void(uint64_t, unsigned, uint64_t)> on_iommu_mmio_write;

  // Runs the CPU from its current state until power-off, triple fault, an
  // unrecoverable halt or the instruction limit, switching worlds at every
  // #VMEXIT. Returns why it stopped (Stop::poweroff when the images ended it).
  cpu::Stop run();
  int exit_status() const { return exit_status_; }
  // What the images sent on COM2, the harness channel (abi/harness_channel.hpp).
  const std::vector<uint8_t>& harness_channel() const { return harness_channel_; }  // (value << 1) | 1 as QEMU's isa-debug-exit; -1: none

 private:
  void attach_devices();
  void enter_from_skinit(const CpuState& s);
  LaunchReport run_launched(LaunchReport r, const LaunchInputs& in, std::chrono::steady_clock::time_point t0);
  void console_byte(uint8_t b);
  void sync_timer();  // the local APIC's next timer expiry becomes the CPU's interrupt line

  Machine& m_;
  TpmDevice& tpm_;
  ConsoleSink sink_;
  FullSystemOptions opt_;
  std::unique_ptr<cpu::Cpu> cpu_;
  std::unique_ptr<svm::HostSvm> svm_;
  std::unique_ptr<vmx::VmxCpu> vmx_;
  Bus bus_;
  std::unique_ptr<Uart16550> uart_;
  std::unique_ptr<Uart16550> harness_uart_;
  std::vector<uint8_t> harness_channel_;
  std::unique_ptr<DebugExit> debug_exit_;
  std::unique_ptr<TpmTis> tis_;
  std::unique_ptr<LocalApic> lapic_;
  std::unique_ptr<PciConfigPorts> pci_;
  std::unique_ptr<AmdDevBridge> dev_bridge_;
  std::unique_ptr<AmdIommu> iommu_;
  std::unique_ptr<IntelVtd> vtd_;
  std::vector<std::unique_ptr<DmaEngine>> dma_engines_;
  std::string line_;
  // When the hypervisor's first console line ("[hv] ...", printed right after its IDT is
  // loaded) arrived: SKINIT -> hypervisor entry, in host time and retired instructions.
  std::chrono::steady_clock::time_point hv_first_line_{};
  uint64_t hv_first_line_icount_ = 0;
  bool hv_line_seen_ = false;
  int exit_status_ = -1;
  std::string stop_error_;  // a CpuError the interpreter raised (a simulator limit), if any
};

}  // namespace redoubt::sim
