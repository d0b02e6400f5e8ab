#include "platform/sim/reset.hpp"

#include <chrono>
#include <cstring>

#include "arch/intel/txt_secrets.hpp"
#include "platform/sim/memory.hpp"

namespace redoubt::sim {

uint64_t SecretsFlag::mmio_read(uint64_t off, unsigned size) const {
  // Intel TXT SDG App. B.1: E2STS is readable in both spaces; the command registers are write-only (read 0).
  if (off == arch::txt::kE2sts && size >= 1) return set_ ? arch::txt::e2sts::kSecretsSts : 0;
  return 0;
}

void SecretsFlag::mmio_write(uint64_t off, unsigned, uint64_t, bool private_space) {
  if (!private_space) return;  // SDG App. B.1: the commands exist only in the private space
  if (off == arch::txt::kCmdSecrets) {
    set_ = true;
    ++sets_;
  } else if (off == arch::txt::kCmdNoSecrets) {
    set_ = false;
    ++clears_;
  }
}

WarmResetReport WarmReset::run(PhysicalMemory& mem, SecretsFlag& flag) {
  WarmResetReport r;
  r.flag_was_set = flag.set_;
  if (!flag.set_ || flag.test_ignore_at_reset) return r;
  const auto t0 = std::chrono::steady_clock::now();
  uint8_t* p = mem.map(0, mem.size());
  std::memset(p, 0, mem.size());
  mem.note_external_write();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.scrubbed_bytes = mem.size();
  flag.set_ = false;
  return r;
}

}  // namespace redoubt::sim
