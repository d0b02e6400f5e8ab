// Names of the VMX basic exit reasons (Intel SDM vol. 3C Appendix C), for kill reasons and logs.
#include "arch/vmx/exit_reasons.hpp"
#include "hypervisor/arch/vmx/vmx_vcpu.hpp"

namespace redoubt::vmx {

const char* exit_reason_name(uint32_t r) {
  switch (r) {
    case kExitExceptionNmi: return "exception or NMI";
    case kExitExternalInterrupt: return "external interrupt";
    case kExitTripleFault: return "triple fault";
    case kExitInit: return "INIT signal";
    case kExitSipi: return "SIPI";
    case kExitTaskSwitch: return "task switch";
    case kExitCpuid: return "CPUID";
    case kExitGetsec: return "GETSEC";
    case kExitHlt: return "HLT";
    case kExitInvd: return "INVD";
    case kExitInvlpg: return "INVLPG";
    case kExitRdpmc: return "RDPMC";
    case kExitRdtsc: return "RDTSC";
    case kExitVmcall: return "VMCALL";
    case kExitVmclear: return "VMCLEAR";
    case kExitVmlaunch: return "VMLAUNCH";
    case kExitVmptrld: return "VMPTRLD";
    case kExitVmptrst: return "VMPTRST";
    case kExitVmread: return "VMREAD";
    case kExitVmresume: return "VMRESUME";
    case kExitVmwrite: return "VMWRITE";
    case kExitVmxoff: return "VMXOFF";
    case kExitVmxon: return "VMXON";
    case kExitCrAccess: return "control-register access";
    case kExitMovDr: return "MOV DR";
    case kExitIo: return "I/O instruction";
    case kExitRdmsr: return "RDMSR";
    case kExitWrmsr: return "WRMSR";
    case kExitEntryFailGuestState: return "VM-entry failure: invalid guest state";
    case kExitEntryFailMsrLoading: return "VM-entry failure: MSR loading";
    case kExitMwait: return "MWAIT";
    case kExitMonitor: return "MONITOR";
    case kExitPause: return "PAUSE";
    case kExitEptViolation: return "EPT violation";
    case kExitEptMisconfig: return "EPT misconfiguration";
    case kExitInvept: return "INVEPT";
    case kExitRdtscp: return "RDTSCP";
    case kExitPreemptionTimer: return "VMX-preemption timer expired";
    case kExitInvvpid: return "INVVPID";
    case kExitWbinvd: return "WBINVD";
    case kExitXsetbv: return "XSETBV";
    default: return "?";
  }
}

}  // namespace redoubt::vmx
