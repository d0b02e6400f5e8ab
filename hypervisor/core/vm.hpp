// Virtual machines and the hypervisor core: guest-physical memory maps, the
// nested page tables, one vCPU per VM (arch backend behind VcpuArch), exit
// handling per policy, the hypercall ABI and round-robin scheduling.
#pragma once
#include <cstdint>

#include "hypervisor/arch/svm/svm_vcpu.hpp"
#include "hypervisor/arch/vmx/vmx_vcpu.hpp"
#include "hypervisor/core/guest_admission.hpp"
#include "hypervisor/core/page_table.hpp"
#include "hypervisor/core/phys_alloc.hpp"
#include "hypervisor/core/policy.hpp"
#include "hypervisor/core/run_record.hpp"
#include "hypervisor/core/shadow_paging.hpp"
#include "hypervisor/core/vcpu_arch.hpp"
#include "hypervisor/core/vuart.hpp"
#include "platform/hal/hal.hpp"
#include "abi/handoff.hpp"

namespace redoubt::hv {

// Tables addressed host-physically (nested page tables in hypervisor memory).
class PhysTables final : public TableMemory {
 public:
  PhysTables() = default;
  PhysTables(hal::PhysMem& mem, PageAllocator* alloc) : mem_(&mem), alloc_(alloc) {}
  Status alloc_table(uint64_t& addr) override;
  uint64_t* table(uint64_t addr) override;

 private:
  hal::PhysMem* mem_ = nullptr;
  PageAllocator* alloc_ = nullptr;  // nullptr: read-only walking
};

// Guest-physical memory: a few regions, each backed by contiguous host RAM.
class GuestMemory {
 public:
  static constexpr uint32_t kMaxRegions = 4;
  struct Region {
    uint64_t gpa, hpa, size;
  };
  void init(hal::PhysMem& mem) {
    mem_ = &mem;
    count_ = 0;
  }
  Status add(uint64_t gpa, uint64_t hpa, uint64_t size);
  // Host pointer to guest-physical [gpa, gpa+n) if it lies in one region.
  uint8_t* ptr(uint64_t gpa, uint64_t n) const;
  uint32_t count() const { return count_; }
  const Region& region(uint32_t i) const { return r_[i]; }

 private:
  hal::PhysMem* mem_ = nullptr;
  Region r_[kMaxRegions] = {};
  uint32_t count_ = 0;
};

// Initial guest page tables, written into guest RAM (addresses are guest-physical).
class GuestRamTables final : public TableMemory {
 public:
  GuestRamTables(const GuestMemory& m, uint64_t first, uint64_t end) : m_(m), next_(first), end_(end) {}
  Status alloc_table(uint64_t& addr) override;
  uint64_t* table(uint64_t addr) override;

 private:
  const GuestMemory& m_;
  uint64_t next_, end_;
};

struct GuestTimer {
  bool armed = false;
  bool pending = false;  // fired, not yet delivered
  uint8_t vector = 0;
  uint64_t deadline = 0, period = 0;
};

class Hypervisor;

class Vm {
 public:
  Vm() = default;
  Status create(Hypervisor& hv, uint32_t id, const hal::HypervisorHandoff::Guest& g);
  // Runs until the guest yields, halts, dies, or the TSC reaches slice_end.
  void run_slice(uint64_t slice_end);
  bool alive() const { return state() == GuestState::runnable || state() == GuestState::halted; }
  GuestState state() const { return GuestState(rec_->state); }
  GuestRecord& record() { return *rec_; }
  GuestTimer& timer() { return timer_; }
  void wake() { rec_->state = uint32_t(GuestState::runnable); }
  PageTableBuilder& npt() { return npt_; }
  const GuestMemory& memory() const { return mem_; }
  void kill(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void finish_serial() { uart_.flush(); }
  // Assigned devices (docs/dma.md "Device assignment"): each gets the guest's I/O domain
  // (IOVA = GPA over its RAM) and its BAR in the nested page tables; release() blocks them
  // again and invalidates (invalidate = false: test only), before the RAM is scrubbed.
  Status release_devices(bool invalidate);
  uint32_t device_count() const { return device_count_; }
  uint64_t serial_bytes() const { return uart_.log_len(); }
  // Writes the exit digest into the record (once; run_record.hpp exit_digest).
  void finish_exit_digest();
  // Shadow paging (shadow_paging.hpp; vm_shadow.cpp): its statistics into the record, and the
  // shadow tables zeroed (scrub = false: test only, kHvTestNoScrub).
  void finish_shadow(bool scrub);
  bool shadow_paging() const { return shadow_on_; }

 private:
  enum class After { resume, yield, stop };
  After handle(const ExitEvent& e);
  bool serial_flooded();  // kills the guest (true) once it wrote serial_flood_bytes past its full log
  After handle_io(const ExitEvent& e);
  After handle_msr(const ExitEvent& e);
  After handle_hypercall(const ExitEvent& e);
  After handle_npf(const ExitEvent& e);
  // Shadow paging exits (#PF, INVLPG, CR0/CR3/CR4 accesses); handled = false: not one of them.
  After handle_shadow(const ExitEvent& e, bool& handled);
  After shadow_page_fault(const ExitEvent& e);
  After shadow_cr_access(const ExitEvent& e, unsigned cr, bool write);
  void shadow_efer_changed(uint64_t old_efer, uint64_t new_efer);
  Status enable_shadow();
  uint64_t guest_cr3() { return shadow_on_ ? shadow_.guest_cr3() : vcpu_->cr3(); }
  After handle_ud(const ExitEvent& e);  // #UD: the other vendor's hypercall instruction, else the guest's own
  void count_exit(const ExitEvent& e);
  void check_timer(uint64_t now);
  // Guest-virtual -> guest-physical through the guest's own page tables.
  bool gva_to_gpa(uint64_t gva, bool write, uint64_t& gpa);
  // Copies between the hypervisor and guest-virtual memory (page by page).
  bool copy_from_guest(uint64_t gva, void* dst, uint64_t n);
  bool copy_to_guest(uint64_t gva, const void* src, uint64_t n);
  Status load(const hal::HypervisorHandoff::Guest& g);
  Status assign_devices(const hal::HypervisorHandoff::Guest& g);
  Status map_host_for_device(uint16_t id, const hal::HypervisorHandoff::Guest& g);

  Hypervisor* hv_ = nullptr;
  GuestRecord* rec_ = nullptr;
  GuestPolicy policy_{};
  GuestMemory mem_;
  PhysTables npt_mem_;
  PageTableBuilder npt_{npt_mem_};
  svm::SvmVcpu svm_;
  vmx::VmxVcpu vmx_;
  VcpuArch* vcpu_ = nullptr;
  VirtualUart uart_;
  GuestTimer timer_;
  uint64_t iopm_pa_ = 0, msrpm_pa_ = 0;
  uint16_t devices_[hal::HypervisorHandoff::kMaxDevices] = {};
  uint32_t device_count_ = 0;
  // br_sha256_context of the exit digest (opaque here: vm.cpp includes BearSSL).
  alignas(8) uint8_t exit_hash_[128] = {};
  bool exit_hash_on_ = false;
  ShadowPager shadow_;
  bool shadow_on_ = false;
};

class Hypervisor {
 public:
  Hypervisor(hal::Platform& p, hal::HypervisorHandoff& h) : platform(p), handoff(h) {}
  Status init();
  Status run();
  void teardown(Vm& vm);  // a stopped guest: flush its serial log, scrub its RAM (once)

  hal::Platform& platform;
  hal::HypervisorHandoff& handoff;  // event_log_used grows with the guest events
  PageAllocator alloc;
  GuestAdmission admission;
  RunRecord* record = nullptr;
  Vm vms[hal::HypervisorHandoff::kMaxGuests];
  uint32_t vm_count = 0;
  uint64_t test_flags = 0;  // entry.hpp kHvTest*
  bool svm_on = false;      // SVM enabled: platform.svm() exists and may have run guests
  bool vmx_on = false;      // VMX root operation entered: platform.vmx() may have run guests
  uint32_t vendor = kVendorSvm;  // chosen at init from what the CPU has (run_record.hpp)
  // Leaf flags of the second-level tables (PageTableBuilder): x86 P|W|U (+PCD for MMIO) for the NPT;
  // for EPT the same bits are R|W|X (§29.3.2) with memory type WB (6 << 3) for RAM, UC (0) for MMIO.
  uint64_t slat_ram_flags = x86::kPteWrite | x86::kPteUser, slat_mmio_flags = x86::kPteWrite | x86::kPteUser | x86::kPtePcd;
  bool dma_release_failed = false;  // a device could not be unassigned: the run ends as a failure
  Status domain_pool;        // the I/O page-table pool (set only when a guest lists devices)
  uint64_t domain_pool_pa = 0, domain_pool_size = 0;

  static constexpr uint8_t kHostTimerVector = 0x20;
};

}  // namespace redoubt::hv
