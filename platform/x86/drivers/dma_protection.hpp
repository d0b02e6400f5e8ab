// The SL's and hypervisor's DMA protection on bare metal: the AMD DEV where the
// machine has one (the first choice: APM vol. 2 §15.24, docs/dma.md), else AMD-Vi
// (docs/dma.md "AMD-Vi"), else (an Intel TXT machine, when the selector is given a VT-d
// unit) the PMRs SINIT enabled, which the hypervisor hands to VT-d translation
// (take_over_vtd, docs/dma.md "VT-d"); none refuses by name. One hal::DmaProtection that
// forwards to whichever was chosen, so BarePlatform is built before the choice.
// Nothing measured depends on the choice. Freestanding, header-only.
#pragma once
#include <cstddef>
#include <cstdint>

#include "platform/hal/hal.hpp"
#include "platform/x86/drivers/amd_dev.hpp"
#include "platform/x86/drivers/amd_iommu.hpp"
#include "platform/x86/drivers/vtd_handoff.hpp"

namespace redoubt::x86 {

class DmaProtectionSelector final : public hal::DmaProtection {
 public:
  DmaProtectionSelector(AmdDev& dev, AmdIommu& iommu, Vtd* vtd = nullptr) : dev_(dev), iommu_(iommu), vtd_(vtd) {}

  // Stage 1: enable whichever exists over the region BootParams::dev_table names.
  Status enable(uint64_t table_pa, uint64_t table_size, const PhysRange* initial, size_t n_initial) {
    REDOUBT_TRY(choose());
    if (vtd_chosen()) return Status::fail(Err::internal, "VT-d: the PMRs are SINIT's to enable, not the SL's");
    return dev_chosen() ? dev_.enable(table_pa, table_size, initial, n_initial)
                        : iommu_.enable(table_pa, table_size, initial, n_initial);
  }
  // Stage 2 and the hypervisor: take over what stage 1 enabled.
  Status attach() {
    REDOUBT_TRY(choose());
    if (vtd_chosen()) return Status::ok();  // choose() found the PMRs enabled
    return dev_chosen() ? dev_.attach() : iommu_.attach();
  }

  // The hypervisor on an Intel machine: SINIT's PMRs -> VT-d translation blocking every requester,
  // with no window (vtd_take_over: the PMRs are released only once translation is on). flags:
  // VtdHw::kTestPmrOffFirst is TEST ONLY (kBareFlagDevOffBeforeIommu: the window, for the attack test).
  Status take_over_vtd(const hal::HypervisorHandoff& h, uint32_t flags = 0) {
    if (!vtd_chosen()) return Status::fail(Err::internal, "VT-d take-over without VT-d chosen");
    REDOUBT_TRY(vtd_take_over(*vtd_, h, flags));
    vtd_translating_ = true;
    return Status::ok();
  }

  // The hypervisor on a machine with both (docs/dma.md "The DEV → AMD-Vi hand-off"): with the
  // DEV still on, enables AMD-Vi blocking every DeviceID in the part of `region` (the loader's
  // BootParams::dev_table, DEV-protected by the SL) after the DEV table, and waits for its
  // invalidation. The DEV stays on: both layers then guard every page (a device must pass
  // the IOMMU's translation and then the DEV's check of the physical page).
  // dev_off_first is TEST ONLY (kHvTestDevOffBeforeIommu): DEV_EN cleared before the IOMMU
  // is programmed, the window other DRTM loaders leave, for the attack test to go through.
  // not_found when the machine has no IOMMU (the DEV alone stays).
  Status layer_iommu(uint64_t region_pa, uint64_t region_size, bool dev_off_first = false) {
    if (!dev_chosen()) return Status::fail(Err::internal, "AMD-Vi layering without the DEV");
    REDOUBT_TRY(iommu_.find());
    const uint64_t start = dev_.table_pa() + dev_.table_bytes();
    if (dev_.table_pa() != region_pa || region_size < dev_.table_bytes() + AmdIommuLayout::kBytes)
      return Status::fail(Err::malformed, "the DMA region [0x%llx, +0x%llx) does not hold the DEV table at 0x%llx and AMD-Vi's %llu bytes",
                          (unsigned long long)region_pa, (unsigned long long)region_size, (unsigned long long)dev_.table_pa(),
                          (unsigned long long)AmdIommuLayout::kBytes);
    if (!dev_.is_protected(start, AmdIommuLayout::kBytes))
      return Status::fail(Err::internal, "the AMD-Vi tables' region at 0x%llx is not DEV-protected", (unsigned long long)start);
    if (dev_off_first) dev_.disable();
    REDOUBT_TRY(iommu_.enable(start, region_pa + region_size - start, nullptr, 0));
    layered_ = true;
    return Status::ok();
  }

  Status protect(uint64_t pa, uint64_t n) override {
    if (!chosen_) return Status::fail(Err::internal, "DMA protection used before the DEV or AMD-Vi was enabled");
    return chosen_->protect(pa, n);
  }
  // Layered: a page is protected if either layer blocks every device from it.
  bool is_protected(uint64_t pa, uint64_t n) override {
    return chosen_ && (chosen_->is_protected(pa, n) || (layered_ && iommu_.is_protected(pa, n)));
  }

  // Assignment needs AMD-Vi (enabled by the SL, or layered under the DEV). Under the DEV the
  // RAM behind the grant is opened in the DEV once the IOMMU confines the device to it, and
  // closed again (before anything else may happen to that RAM) when the device is unassigned.
  bool iommu_ready() const { return layered_ || chosen_ == &iommu_; }
  Status set_domain_pool(uint64_t pa, uint64_t size) override {
    if (vtd_translating_) return vtd_->set_domain_pool(pa, size);
    if (!iommu_ready()) return hal::DmaProtection::set_domain_pool(pa, size);
    return iommu_.set_page_table_pool(pa, size);
  }
  Status assign(uint16_t device_id, uint16_t domain_id, uint64_t iova, uint64_t pa, uint64_t size) override {
    if (vtd_translating_) return vtd_->assign(device_id, domain_id, iova, pa, size);
    if (!iommu_ready()) return hal::DmaProtection::assign(device_id, domain_id, iova, pa, size);
    REDOUBT_TRY(iommu_.grant(device_id, iova, pa, size, true, true, domain_id));
    for (size_t i = 0; i < kMaxAssigned; ++i)
      if (!assigned_[i].used) {
        assigned_[i] = {true, device_id, pa, size};
        break;
      }
    return layered_ ? dev_.unprotect(pa, size) : Status::ok();
  }
  Status unassign(uint16_t device_id, bool invalidate) override {
    if (vtd_translating_) return vtd_->unassign(device_id, invalidate);
    if (!iommu_ready()) return hal::DmaProtection::unassign(device_id, invalidate);
    REDOUBT_TRY(iommu_.revoke(device_id, invalidate));
    // The DEV closes the pages again (every range the device was given: the test-only
    // kHvTestDmaMapsHost gives it several) unless the test switch wants the stale path open end to end.
    for (size_t i = 0; i < kMaxAssigned; ++i)
      if (assigned_[i].used && assigned_[i].device == device_id) {
        assigned_[i].used = false;
        if (layered_ && assigned_[i].size && invalidate) REDOUBT_TRY(dev_.protect(assigned_[i].pa, assigned_[i].size));
      }
    return Status::ok();
  }
  Status device_window(uint16_t device_id, uint64_t& pa, uint64_t& size) override {
    if (vtd_translating_) return vtd_->device_window(device_id, pa, size);
    if (!iommu_ready()) return hal::DmaProtection::device_window(device_id, pa, size);
    return iommu_.engine_bar(device_id, pa, size);
  }
  // "AMD DEV" / "AMD-Vi" / "VT-d PMRs (TXT)" / "VT-d" once chosen (console lines only: never measured).
  const char* name() const {
    if (vtd_chosen()) return vtd_translating_ ? "VT-d" : "VT-d PMRs (TXT)";
    return !chosen_ ? "none" : dev_chosen() ? (layered_ ? "AMD DEV + AMD-Vi" : "AMD DEV") : "AMD-Vi";
  }
  bool dev_chosen() const { return chosen_ == &dev_; }
  bool vtd_chosen() const { return vtd_ && chosen_ == vtd_; }
  bool layered() const { return layered_; }

 private:
  Status choose() {
    if (chosen_) return Status::ok();
    const Status d = dev_.find();
    if (d) {
      chosen_ = &dev_;
      return Status::ok();
    }
    const Status i = iommu_.find();
    if (i) {
      chosen_ = &iommu_;
      return Status::ok();
    }
    if (vtd_) {  // an Intel TXT machine: SINIT enabled the PMRs the MLE asked for (MLE DG App. C.4, VT-d §10.4.16)
      const Status t = vtd_->probe();
      if (!t) return Status::fail(Err::unsupported, "no DMA protection: %s; %s; %s", d.message(), i.message(), t.message());
      if (!vtd_->pmr_enabled())
        return Status::fail(Err::unsupported, "no DMA protection: VT-d found but its PMRs are off (no TXT launch?)");
      chosen_ = vtd_;
      return Status::ok();
    }
    return Status::fail(Err::unsupported, "no DMA protection: %s; %s", d.message(), i.message());
  }

  static constexpr size_t kMaxAssigned = 16;
  struct Assigned {
    bool used;
    uint16_t device;
    uint64_t pa, size;
  };

  AmdDev& dev_;
  AmdIommu& iommu_;
  Vtd* vtd_;
  hal::DmaProtection* chosen_ = nullptr;
  bool layered_ = false;
  bool vtd_translating_ = false;  // take_over_vtd done: VT-d translation blocks every requester
  Assigned assigned_[kMaxAssigned]{};
};

}  // namespace redoubt::x86
