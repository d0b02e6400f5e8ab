// Warm reset on the simulated machine, and the reset-attack mitigation that answers it
// (issue 11; docs/isolation.md "Remanence").
//
// RAM survives a warm reset, as DRAM does: whatever the last owner left is there for the
// next boot's first code. The hypervisor sets a sticky "secrets in memory" flag before it
// loads any guest and clears it after its final scrub (arch/intel/txt_secrets.hpp: TXT's
// TXT.CMD.SECRETS / NO-SECRETS / E2STS.SECRETS_STS, the registers the simulated platform
// offers). A warm reset with the flag set is answered by the platform before any other code
// runs — TXT's ACM scrub, or firmware honouring TCG's Memory Overwrite Request: all RAM is
// zeroed, then the flag is cleared. Without the flag nothing is scrubbed (nothing secret was
// left, by the hypervisor's own account).
#pragma once
#include <cstdint>

namespace redoubt::sim {

class PhysicalMemory;

class SecretsFlag {
 public:
  // The TXT register block (offsets from kPrivateBase or kPublicBase).
  uint64_t mmio_read(uint64_t off, unsigned size) const;
  void mmio_write(uint64_t off, unsigned size, uint64_t value, bool private_space);
  bool set() const { return set_; }
  uint64_t writes() const { return sets_ + clears_; }
  uint64_t sets() const { return sets_; }
  uint64_t clears() const { return clears_; }

  // Test only: the platform ignores the flag at reset (a platform without the mitigation,
  // e.g. QEMU's, which has no such register), so the remanence attack can be seen to succeed.
  bool test_ignore_at_reset = false;

 private:
  friend struct WarmReset;
  bool set_ = false;
  uint64_t sets_ = 0, clears_ = 0;
};

struct WarmResetReport {
  bool flag_was_set = false;
  uint64_t scrubbed_bytes = 0;  // all of RAM when the flag was set (and honoured)
  double seconds = 0;           // host time of the scrub (bench: scrub bandwidth)
};

struct WarmReset {
  // Before any code of the next boot: scrub all RAM if the flag is set (then clear it).
  static WarmResetReport run(PhysicalMemory& mem, SecretsFlag& flag);
};

}  // namespace redoubt::sim
