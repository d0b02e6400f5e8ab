// The SL's and hypervisor's DMA protection on bare metal: the AMD DEV where the
// machine has one (the first choice: APM vol. 2 §15.24, docs/dma.md), else AMD-Vi
// (docs/dma.md "AMD-Vi"); neither refuses by name. One hal::DmaProtection that
// forwards to whichever was chosen, so BarePlatform is built before the choice.
// Nothing measured depends on the choice. Freestanding, header-only.
#pragma once
#include <cstddef>
#include <cstdint>

#include "platform/hal/hal.hpp"
#include "platform/x86/drivers/amd_dev.hpp"
#include "platform/x86/drivers/amd_iommu.hpp"

namespace redoubt::x86 {

class DmaProtectionSelector final : public hal::DmaProtection {
 public:
  DmaProtectionSelector(AmdDev& dev, AmdIommu& iommu) : dev_(dev), iommu_(iommu) {}

  // Stage 1: enable whichever exists over the region BootParams::dev_table names.
  Status enable(uint64_t table_pa, uint64_t table_size, const PhysRange* initial, size_t n_initial) {
    REDOUBT_TRY(choose());
    return dev_chosen() ? dev_.enable(table_pa, table_size, initial, n_initial)
                        : iommu_.enable(table_pa, table_size, initial, n_initial);
  }
  // Stage 2 and the hypervisor: take over what stage 1 enabled.
  Status attach() {
    REDOUBT_TRY(choose());
    return dev_chosen() ? dev_.attach() : iommu_.attach();
  }

  Status protect(uint64_t pa, uint64_t n) override {
    if (!chosen_) return Status::fail(Err::internal, "DMA protection used before the DEV or AMD-Vi was enabled");
    return chosen_->protect(pa, n);
  }
  bool is_protected(uint64_t pa, uint64_t n) override { return chosen_ && chosen_->is_protected(pa, n); }

  // "AMD DEV" / "AMD-Vi" once chosen (console lines only: never measured).
  const char* name() const { return !chosen_ ? "none" : dev_chosen() ? "AMD DEV" : "AMD-Vi"; }
  bool dev_chosen() const { return chosen_ == &dev_; }

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
    return Status::fail(Err::unsupported, "no DMA protection: %s; %s", d.message(), i.message());
  }

  AmdDev& dev_;
  AmdIommu& iommu_;
  hal::DmaProtection* chosen_ = nullptr;
};

}  // namespace redoubt::x86
