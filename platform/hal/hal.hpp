// The platform interface that sl/ and hypervisor/ are written against.
// platform/sim implements it for the simulator (like Hafnium's arch/fake);
// platform/x86 is the bare-metal implementation (partial until the QEMU issue).
#pragma once
#include <cstddef>
#include <cstdint>

#include "platform/hal/digest.hpp"
#include "platform/hal/status.hpp"
#include "platform/hal/svm.hpp"
#include "platform/hal/vmx.hpp"

namespace redoubt::hal {

class Console {
 public:
  virtual void write(const char* s, size_t n) = 0;
  void print(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

 protected:
  ~Console() = default;
};

// The TPM as the secure loader and hypervisor see it: extend at a locality,
// read the anti-rollback counters. TPM localities: TCG PC Client PTP §6.
class Tpm {
 public:
  virtual Status active_banks(BankList& out) = 0;
  // TPM2_PCR_Extend at `locality` with one digest per active bank.
  virtual Status pcr_extend(uint8_t locality, uint32_t pcr, const DigestList& digests) = 0;
  // TPM2_NV_Read of an 8-byte NV counter; Err::tpm with a message naming the
  // index if it is not defined or never incremented.
  virtual Status nv_read_counter(uint8_t locality, uint32_t nv_index, uint64_t& value) = 0;

 protected:
  ~Tpm() = default;
};

// Physical memory as seen by the CPU at this point of the launch (paging off).
class PhysMem {
 public:
  // A pointer to [pa, pa+n) or nullptr if any of it is outside RAM.
  virtual uint8_t* map(uint64_t pa, uint64_t n) = 0;
  // Sets [pa, pa+n) to zero (the hypervisor's clears and scrubs); false if any of it is
  // outside RAM. A host-backed platform may do it without touching every byte
  // (tests/fuzz/fuzz_hal.hpp hands whole pages back to the host, which read as zero).
  virtual bool zero(uint64_t pa, uint64_t n) {
    uint8_t* m = map(pa, n);
    if (!m) return false;
    __builtin_memset(m, 0, n);
    return true;
  }

 protected:
  ~PhysMem() = default;
};

// DMA protection (AMD DEV, APM vol. 2 §15.24; later AMD-Vi / VT-d).
class DmaProtection {
 public:
  virtual Status protect(uint64_t pa, uint64_t n) = 0;
  virtual bool is_protected(uint64_t pa, uint64_t n) = 0;

  // Device assignment (docs/dma.md "Device assignment"); platforms without an IOMMU refuse.
  // Memory the I/O page tables are built in (hypervisor memory: no device can reach it).
  virtual Status set_domain_pool(uint64_t pa, uint64_t size) {
    (void)pa, (void)size;
    return Status::fail(Err::unsupported, "this platform has no IOMMU domains");
  }
  // `device_id` may DMA to host-physical [pa, pa + size) at I/O virtual address iova (read and
  // write), in I/O domain `domain_id`; once this returns no stale cached entry remains.
  virtual Status assign(uint16_t device_id, uint16_t domain_id, uint64_t iova, uint64_t pa, uint64_t size) {
    (void)device_id, (void)domain_id, (void)iova, (void)pa, (void)size;
    return Status::fail(Err::unsupported, "this platform cannot assign devices");
  }
  // Blocks `device_id` everywhere again and invalidates (invalidate = false: test only).
  virtual Status unassign(uint16_t device_id, bool invalidate) {
    (void)device_id, (void)invalidate;
    return Status::fail(Err::unsupported, "this platform cannot assign devices");
  }
  // The MMIO window (BAR) a guest programs an assignable device through.
  virtual Status device_window(uint16_t device_id, uint64_t& pa, uint64_t& size) {
    (void)device_id, (void)pa, (void)size;
    return Status::fail(Err::unsupported, "this platform cannot assign devices");
  }

 protected:
  ~DmaProtection() = default;
};

struct HypervisorHandoff;  // defined in abi/handoff.hpp

class Platform {
 public:
  virtual Console& console() = 0;
  virtual Tpm& tpm() = 0;
  virtual PhysMem& mem() = 0;
  virtual DmaProtection& dma() = 0;
  virtual Svm& svm() = 0;  // AMD-V (APM vol. 2 ch. 15); rdtsc() and arm_timer() serve both vendors
  // Intel VT-x (SDM vol. 3C), or nullptr where the platform has no VMX HAL.
  virtual Vmx* vmx() { return nullptr; }
  // Transfer control to the measured hypervisor. Does not return on hardware;
  // the simulator runs the native hypervisor entry and returns its status.
  virtual Status enter_hypervisor(HypervisorHandoff& handoff) = 0;
  // Stop this CPU for good, saying why. Never a silent no-op.
  [[noreturn]] virtual void halt(const char* why) = 0;
  // SLB[0:length] exactly as SKINIT measured it (what the DRTM log's first event
  // hashes). Where the SL ran in place it has since relocated itself and written
  // its data, so the bare-metal SL keeps a copy taken before its first write
  // (docs/skinit.md); the native build never changes the SLB.
  virtual const uint8_t* slb_as_measured(uint64_t slb_base, uint64_t length) { return mem().map(slb_base, length); }
  // Reset-attack mitigation (docs/isolation.md "Remanence"): memory holds secrets (true),
  // or everything was scrubbed (false); while set, a warm reset is answered by a scrub of
  // all RAM before any other code runs. False: this platform has no such mechanism.
  virtual bool secrets_in_memory(bool present) {
    (void)present;
    return false;
  }

 protected:
  ~Platform() = default;
};

}  // namespace redoubt::hal
