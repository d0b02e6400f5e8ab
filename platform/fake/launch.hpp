// A measured launch with the NATIVE build of the secure loader and hypervisor
// (as Hafnium's arch/fake): the loader lays out RAM, the simulated BSP executes
// SKINIT, then secure_loader_main runs natively against SimPlatform. For unit
// tests only; what users run is platform/sim/full_system (the measured images).
#pragma once
#include "platform/fake/sim_platform.hpp"
#include "platform/sim/loader.hpp"

namespace redoubt::sim {

LaunchReport measured_launch(Machine& m, TpmDevice& tpm, const LaunchInputs& in, const ConsoleSink& sink);

}  // namespace redoubt::sim
