#include "platform/fake/sim_platform.hpp"

#include "hypervisor/core/entry.hpp"
#include "platform/hal/format.hpp"

namespace redoubt::sim {

Status SimPlatform::enter_hypervisor(hal::HypervisorHandoff& handoff) {
  hv_entry_time_ = std::chrono::steady_clock::now();
  handoff_ = handoff;
  live_handoff_ = &handoff;
  Status s = runner_ ? runner_(handoff) : hv::hypervisor_main(*this, handoff, hv_test_flags_);
  handoff_ = handoff;  // with the hypervisor's guest events counted
  live_handoff_ = nullptr;
  return s;
}

void SimPlatform::halt(const char* why) { throw SimHalt(why); }

hal::Svm& SimPlatform::svm() {
  if (!svm_) throw SimHalt("this simulated machine has no SVM model attached");
  return *svm_;
}

void SimPlatform::write(const char* s, size_t n) {
  // Line-buffer so each console line reaches the sink whole.
  for (size_t i = 0; i < n; ++i) {
    if (s[i] == '\n') {
      sink_(line_);
      line_.clear();
    } else {
      line_ += s[i];
    }
  }
}

Status SimPlatform::active_banks(BankList& out) {
  try {
    out = tpm_.active_banks();
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::fail(Err::tpm, "%s", e.what());
  }
}

Status SimPlatform::pcr_extend(uint8_t locality, uint32_t pcr, const DigestList& digests) {
  try {
    tpm_.set_locality(locality);
    tpm_.pcr_extend(pcr, digests);
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::fail(Err::tpm, "%s", e.what());
  }
}

Status SimPlatform::nv_read_counter(uint8_t locality, uint32_t nv_index, uint64_t& value) {
  try {
    tpm_.set_locality(locality);
    std::optional<uint64_t> v = tpm_.nv_read_counter(nv_index);
    if (!v)
      return Status::fail(Err::not_found, "anti-rollback counter NV 0x%08x is not provisioned in this TPM", nv_index);
    value = *v;
    return Status::ok();
  } catch (const std::exception& e) {
    return Status::fail(Err::tpm, "%s", e.what());
  }
}

Status SimPlatform::protect(uint64_t pa, uint64_t n) {
  if (!m_.mem().contains(pa, n))
    return Status::fail(Err::fault, "DEV: [0x%llx, +0x%llx) is outside RAM", (unsigned long long)pa,
                        (unsigned long long)n);
  m_.dev().protect(pa, n);
  return Status::ok();
}

}  // namespace redoubt::sim
