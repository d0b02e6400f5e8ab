// The simulator's VMCS: the state of one VMCS region, kept by the simulator and
// keyed by the region's physical address. Software sees it only through
// VMREAD/VMWRITE (Intel SDM vol. 3C §25.2: the format is implementation
// specific); only the revision identifier (and the abort indicator) are in memory.
#pragma once
#include <cstdint>
#include <unordered_map>

#include "arch/vmx/vmcs_fields.hpp"

namespace redoubt::sim::vmx {

// The fields this model supports, by encoding: VMREAD/VMWRITE of any other
// encoding is VMfailValid(12) (§31.4). Fields of features the model does not
// report (TPR shadow, posted interrupts, PML, #VE, CET, ...) are unsupported.
bool field_supported(uint32_t enc);
// The highest index of a supported field (IA32_VMX_VMCS_ENUM bits 9:1, Appendix A.9).
unsigned highest_field_index();

struct Vmcs {
  enum class Launch : uint8_t { clear, launched };
  Launch launch = Launch::clear;
  std::unordered_map<uint32_t, uint64_t> fields;  // full encodings only (bit 0 = 0)

  // The value of a field (0 if never written). `enc` must be a supported full encoding.
  uint64_t get(uint32_t enc) const {
    const auto it = fields.find(enc);
    return it == fields.end() ? 0 : it->second;
  }
  // Stores `v` truncated to the field's width (§31.3 "VMWRITE": excess high bits are ignored).
  void set(uint32_t enc, uint64_t v);
  // VMREAD/VMWRITE semantics with a possibly high-access encoding (bit 0 = 1: bits 63:32 of a
  // 64-bit field, §25.11.2). The caller checked field_supported.
  uint64_t read(uint32_t enc) const;
  void write(uint32_t enc, uint64_t v);
};

}  // namespace redoubt::sim::vmx
