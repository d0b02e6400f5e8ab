// libFuzzer: the hypervisor's guest admission (hypervisor/core/guest_admission.cpp):
// the launch policy and the guest entry the hypervisor was handed, the signed
// manifest in RAM, the I/O grant, the RAM size and the TPM's SVN floor, on the fuzz
// HAL (fuzz_hal.hpp). Input: byte 0 flags (bit 0: the NV SVN counter is defined,
// bit 1: an initrd, bit 2: the event log is not DMA-protected, bit 3: the policy
// region is not protected), io_base u16, io_count u16, RAM MiB u8, NV floor u8,
// policy length u16, the launch policy (COSE_Sign1; the SL verified its signature),
// then the guest manifest (empty = an unsigned guest). The kernel is the 64 zero
// bytes the seed manifests (fuzz_pki_seeds) sign. Invariants (docs/trust-model.md):
// every outcome is measured (a refusal last on PCR19 and PCR20, an admission on both);
// a refusal has a stable name; an admitted guest's I/O grant lies in the policy's
// guest_io and its signed RAM size is the one given.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "hypervisor/core/guest_admission.hpp"
#include "policy/fs/eventlog.hpp"
#include "policy/fs/pcr_map.hpp"
#include "tests/fuzz/fuzz_hal.hpp"

using namespace redoubt;
using namespace redoubt::hv;

namespace {

constexpr uint64_t kRam = 64ull << 20;
constexpr uint64_t kLogPa = 0x100000, kLogCap = 0x10000;
constexpr uint64_t kPolicyPa = 0x200000, kManifestPa = 0x300000;
constexpr uint64_t kHvMem = 0x400000, kHvMemSize = 1ull << 20;

fuzz_hal::FuzzPlatform& platform() {
  static fuzz_hal::FuzzPlatform p(kRam);
  return p;
}

uint16_t u16(const uint8_t* d) { return uint16_t(d[0] | d[1] << 8); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kHead = 9;
  if (size < kHead) return 0;
  const uint8_t flags = data[0];
  const size_t policy_len = std::min<size_t>(u16(data + 7), size - kHead);
  if (policy_len > 64 * 1024) return 0;
  std::span<const uint8_t> policy(data + kHead, policy_len), manifest(data + kHead + policy_len, size - kHead - policy_len);
  if (manifest.size() > 64 * 1024) return 0;

  fuzz_hal::FuzzPlatform& p = platform();
  p.reset();
  p.nv_missing = !(flags & 1);
  p.nv_value = data[6];
  std::memcpy(p.map(kPolicyPa, policy.size()), policy.data(), policy.size());
  std::memcpy(p.map(kManifestPa, manifest.size()), manifest.data(), manifest.size());

  // The hand-off as the SL leaves it: the log started (header + one event), regions protected.
  hal::HypervisorHandoff h{};
  h.banks.alg[h.banks.count++] = HashAlg::sha256;
  h.banks.alg[h.banks.count++] = HashAlg::sha384;
  policy::EventLogWriter w(p.map(kLogPa, kLogCap), kLogCap);
  if (!w.write_header(h.banks)) std::abort();
  h.event_log_pa = kLogPa;
  h.event_log_cap = kLogCap;
  h.event_log_used = w.size();
  h.policy_pa = kPolicyPa;
  h.policy_size = policy.size();
  h.hv_memory_pa = kHvMem;
  h.hv_memory_size = kHvMemSize;
  if (!(flags & 4)) (void)p.protect(kLogPa, kLogCap);
  if (!(flags & 8)) (void)p.protect(kPolicyPa, policy.size() ? policy.size() : 1);
  (void)p.protect(kHvMem, kHvMemSize);

  hal::HypervisorHandoff::Guest g{};
  std::memcpy(g.name, "fuzz", 5);
  g.io_base = u16(data + 1);
  g.io_count = u16(data + 3);
  g.ram_size = uint64_t(data[5]) << 20;
  g.manifest_pa = manifest.empty() ? 0 : kManifestPa;
  g.manifest_size = manifest.size();

  PageAllocator alloc;
  if (!alloc.init(p, kHvMem, kHvMemSize)) std::abort();
  GuestAdmission adm;
  if (!adm.init(p, h, alloc)) std::abort();  // never fails: problems refuse the guests
  static const uint8_t kKernel[64] = {};
  static const uint8_t kInitrd[10] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
  AdmissionResult out;
  const size_t before = p.extends.size();
  adm.admit(g, kKernel, (flags & 2) ? std::span<const uint8_t>(kInitrd) : std::span<const uint8_t>(), out);
  const size_t measured = p.extends.size() - before;
  if (out.how == Admission::refused) {
    // The refusal is the last thing measured, on PCR19 then PCR20 (a failed measurement before it may add one).
    if (out.refusal[0] == 0 || out.reason[0] == 0 || measured < 2) std::abort();
    const size_t n = p.extends.size();
    if (p.extends[n - 2].pcr != policy::kPcrGuestAuthority || p.extends[n - 1].pcr != policy::kPcrGuestDetail) std::abort();
  } else {
    if (measured < 2) std::abort();
    const policy::LaunchPolicy* lp = adm.policy();
    if (!lp) std::abort();
    if (g.io_count) {
      bool inside = false;
      for (size_t i = 0; i < lp->io_count; ++i)
        inside |= g.io_base >= lp->io[i].first && uint32_t(g.io_base) + g.io_count - 1 <= lp->io[i].last;
      if (!inside) std::abort();
    }
  }
  (void)adm.finish();
  std::memset(p.map(kLogPa, kLogCap), 0, kLogCap);
  std::memset(p.map(kPolicyPa, policy.size()), 0, policy.size());
  std::memset(p.map(kManifestPa, manifest.size()), 0, manifest.size());
  return 0;
}
