// Which Intel SDM this directory follows. Section numbers in the comments of
// arch/vmx/, platform/sim/vmx/ and their tests are those of the Intel 64 and
// IA-32 Architectures Software Developer's Manual, Volume 3C, in the editions
// (2023 and later, e.g. order no. 325462-080US) where the VMX chapters are:
//   ch. 25 "Virtual Machine Control Structures", ch. 26 "VMX Non-Root Operation",
//   ch. 27 "VM Entries", ch. 28 "VM Exits", ch. 29 "VMX Support for Address
//   Translation", ch. 31 "VMX Instruction Reference" (§31.2 conventions,
//   §31.4 VM-instruction error numbers), Appendix A "VMX Capability Reporting
//   Facility", Appendix B "Field Encoding in VMCS", Appendix C "VMX Basic Exit
//   Reasons".
// Older editions (before 2023) number the same chapters one lower
// (ch. 26 VM entries, ch. 30 instruction reference, §30.4 error numbers).
#pragma once
