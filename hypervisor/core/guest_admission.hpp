// Guest admission (issue 4): before a guest's first instruction the hypervisor
// checks it against the signed launch policy (chain to a corporate anchor,
// certificate profile, revocation, manifest signature, image digests, SVN
// against the policy floor and the TPM NV counter for its name) and measures
// the result: PCR19 the signer chain (authority), PCR20 the manifest (detail),
// each with an event-log record; or a named refusal, measured into both.
// docs/trust-model.md is the contract; event types in policy/fs/pcr_map.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/core/phys_alloc.hpp"
#include "platform/hal/hal.hpp"
#include "policy/fs/eventlog.hpp"
#include "policy/fs/guest_manifest.hpp"
#include "abi/boot_params.hpp"
#include "abi/handoff.hpp"

namespace redoubt::hv {

// How a guest was admitted.
enum class Admission : uint32_t {
  refused = 0,
  signed_measured = 1,      // chain -> PCR19, manifest -> PCR20
  unsigned_measured = 2,    // policy `unsigned: 1`: marker -> PCR19, H(kernel[, initrd]) -> PCR20
};

struct AdmissionResult {
  Admission how = Admission::refused;
  char refusal[32] = {};     // a stable name: a policy::refusal_name(), or no_launch_policy,
                             // policy_invalid, memory_mismatch, io_not_allowed, tpm, log_full
  char reason[240] = {};     // the detail (Status::kMsgCap)
  char name[64] = {};        // the signed name (manifest), else the loader's label
  char version[32] = {};
  uint64_t svn = 0;
  std::span<const uint8_t> cmdline;  // into the hypervisor's manifest copy (valid until the next admit)
};

class GuestAdmission {
 public:
  // Copies and decodes the launch policy into hypervisor memory and resumes
  // the SL's event log. A missing or undecodable policy is not an error here:
  // every guest is then refused, measured, with the reason.
  Status init(hal::Platform& p, hal::HypervisorHandoff& h, PageAllocator& alloc);

  // `kernel`/`initrd` are the copies in the guest's RAM that will run (the
  // guest has not run yet, and its RAM is DEV-protected); the manifest is copied
  // into hypervisor memory first. Always fills `out`; measures either way.
  void admit(const hal::HypervisorHandoff::Guest& g, std::span<const uint8_t> kernel,
             std::span<const uint8_t> initrd, AdmissionResult& out);

  // A guest that could not be loaded or started (not a policy refusal): measured
  // like a refusal with the name "failed", so no listed guest goes unrecorded.
  void record_failure(const hal::HypervisorHandoff::Guest& g, const Status& why);

  // EV_SEPARATOR on PCR19 and PCR20 once every guest has been admitted or refused.
  Status finish();

  // The decoded policy, or nullptr (none / invalid).
  const policy::LaunchPolicy* policy() const { return policy_ok_ ? &s_->policy : nullptr; }

 private:
  struct Scratch {  // in hypervisor pages, not on the stack (docs/pki.md §7)
    policy::LaunchPolicy policy;
    policy::GuestManifest manifest;
    policy::VerifiedChain chain;
    uint8_t policy_copy[sl::kMaxLaunchPolicy];
    uint8_t manifest_copy[sl::kMaxGuestManifest];
  };
  Status measure(uint32_t pcr, uint32_t type, const DigestList& d, std::span<const uint8_t> data);
  Status measure_text(uint32_t pcr, uint32_t type, const DigestList* d, const char* text);
  void refuse(AdmissionResult& out, const char* label, const char* refusal, const char* fmt, ...)
      __attribute__((format(printf, 5, 6)));
  void admit_signed(const hal::HypervisorHandoff::Guest& g, std::span<const uint8_t> kernel,
                    std::span<const uint8_t> initrd, AdmissionResult& out);
  void admit_unsigned(const hal::HypervisorHandoff::Guest& g, std::span<const uint8_t> kernel,
                      std::span<const uint8_t> initrd, AdmissionResult& out);
  Status guest_svn_floor(std::span<const uint8_t> name, uint64_t& floor, uint32_t& index);

  hal::Platform* p_ = nullptr;
  hal::HypervisorHandoff* h_ = nullptr;
  Scratch* s_ = nullptr;
  policy::EventLogWriter log_{nullptr, 0};
  bool log_ok_ = false;
  bool policy_ok_ = false;
  char policy_problem_[160] = {};
};

}  // namespace redoubt::hv
