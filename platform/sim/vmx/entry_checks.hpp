// The checks of a VM entry (Intel SDM vol. 3C ch. 27): §27.2 on the VMX
// controls and the host-state area (failure: VMfailValid 7 or 8, the entry does
// not happen) and §27.3 on the guest-state area (failure: a VM exit with basic
// reason 33 and bit 31 set, exit qualification per §27.8).
#pragma once
#include <cstdint>

#include "platform/sim/memory.hpp"
#include "platform/sim/vmx/vmcs.hpp"
#include "platform/sim/vmx/vmx_caps.hpp"

namespace redoubt::sim::vmx {

struct EntryCheck {
  enum class Kind : uint8_t { ok, fail_valid, fail_guest };
  Kind kind = Kind::ok;
  uint32_t error = 0;          // fail_valid: VM-instruction error (7 controls, 8 host state)
  uint64_t qualification = 0;  // fail_guest: exit qualification (§27.8: 0 default, 4 VMCS link pointer)
  const char* why = "";        // the rule that failed, with its section
  bool ok() const { return kind == Kind::ok; }
};

// What the checks need to know about the processor doing the entry.
struct EntryContext {
  bool host_ia32e = true;  // IA32_EFER.LMA of the logical processor at VM entry (§27.2.3)
  const PhysicalMemory* mem = nullptr;  // to read the revision id behind the VMCS link pointer
  uint64_t cr4_fixed1 = kCr4Fixed1;     // IA32_VMX_CR4_FIXED1 of this CPU (SMXE on a part with SMX)
};

EntryCheck check_controls(const Vmcs& s);                                // §27.2.1 -> error 7
EntryCheck check_host_state(const Vmcs& s, const EntryContext& ctx);     // §27.2.2, §27.2.3 -> error 8
EntryCheck check_guest_state(const Vmcs& s, const EntryContext& ctx);    // §27.3 -> reason 33

}  // namespace redoubt::sim::vmx
