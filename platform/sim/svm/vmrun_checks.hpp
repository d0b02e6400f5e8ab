// VMRUN consistency checks (AMD APM vol. 2 §15.5.1 "Basic Operation",
// "Canonicalization and Consistency Checks"; §15.20 for EVENTINJ).
#pragma once
#include <cstdint>

#include "arch/svm/vmcb.hpp"

namespace redoubt::sim::svm {

// nullptr when the VMCB passes; otherwise the name of the first failed check
// (the CPU then writes EXITCODE = VMEXIT_INVALID and does not enter the guest).
const char* vmrun_check(const redoubt::svm::Vmcb& v, uint64_t ram_bytes);

}  // namespace redoubt::sim::svm
