// The capability MSRs of the simulated Intel CPU (Intel SDM vol. 3C Appendix A).
#include "platform/sim/vmx/vmx_caps.hpp"

#include "platform/sim/vmx/vmcs.hpp"

namespace redoubt::sim::vmx {

bool capability_msr(uint32_t msr, uint64_t& value) {
  switch (msr) {
    case v::kMsrVmxBasic: value = kVmxBasic; return true;
    case v::kMsrVmxPinbasedCtls: value = kPinCtls; return true;
    case v::kMsrVmxProcbasedCtls: value = kProcCtls; return true;
    case v::kMsrVmxExitCtls: value = kExitCtls; return true;
    case v::kMsrVmxEntryCtls: value = kEntryCtls; return true;
    case v::kMsrVmxMisc: value = kVmxMisc; return true;
    case v::kMsrVmxCr0Fixed0: value = kCr0Fixed0; return true;
    case v::kMsrVmxCr0Fixed1: value = kCr0Fixed1; return true;
    case v::kMsrVmxCr4Fixed0: value = kCr4Fixed0; return true;
    case v::kMsrVmxCr4Fixed1: value = kCr4Fixed1; return true;
    case v::kMsrVmxVmcsEnum: value = uint64_t(highest_field_index()) << 1; return true;  // A.9: bits 9:1
    case v::kMsrVmxProcbasedCtls2: value = kProc2Ctls; return true;
    case v::kMsrVmxEptVpidCap: value = kEptVpidCap; return true;
    case v::kMsrVmxTruePinbasedCtls: value = kTruePinCtls; return true;
    case v::kMsrVmxTrueProcbasedCtls: value = kTrueProcCtls; return true;
    case v::kMsrVmxTrueExitCtls: value = kTrueExitCtls; return true;
    case v::kMsrVmxTrueEntryCtls: value = kTrueEntryCtls; return true;
    default: return false;
  }
}

}  // namespace redoubt::sim::vmx
