// The size limits of `redoubt`'s inputs (docs/running.md, "Input size limits").
// They bound what is read (time, memory), not what is valid: the small kinds get
// 1 MiB, well above their slots, so that an image or manifest a little too big
// still reaches the pre-launch loader and is refused by name in launch.json
// (platform/sim/loader.cpp); the big kinds get what the loader can place at all
// (platform/sim/loader.hpp LaunchLayout).
#include "abi/boot_params.hpp"
#include "abi/slb_layout.hpp"
#include "platform/sim/loader.hpp"
#include "tools/common.hpp"

namespace redoubt::tools::input {
namespace {
constexpr sim::LaunchLayout kLayout{};
static_assert(kLayout.guest_images > kLayout.hv_image && kLayout.hv_memory > kLayout.guest_images);
}  // namespace

constexpr uint64_t kSmall = 1ull << 20;
static_assert(kSmall > sl::kSlbSize && kSmall > kLayout.launch_policy - kLayout.manifest && kSmall > sl::kMaxLaunchPolicy &&
              kSmall > sl::kMaxGuestManifest);

const InputKind kSlImage{"secure loader image", kSmall};                                  // the SLB: 64 KiB (loader)
const InputKind kHvImage{"hypervisor image", kLayout.guest_images - kLayout.hv_image};    // 15 MiB, below the guests
const InputKind kHvManifest{"hypervisor manifest", kSmall};                               // slot: 64 KiB (loader)
const InputKind kLaunchPolicy{"launch policy", kSmall};                                   // sl::kMaxLaunchPolicy (loader)
const InputKind kGuestKernel{"guest kernel", kLayout.hv_memory - kLayout.guest_images};   // 32 MiB for all guests
const InputKind kGuestInitrd{"guest initrd", kLayout.hv_memory - kLayout.guest_images};
const InputKind kGuestManifest{"guest manifest", kSmall};                                 // sl::kMaxGuestManifest (hypervisor)
const InputKind kManifest{"manifest", kSmall};
const InputKind kEventLog{"event log", 16ull << 20};  // a TCG log from any source (`eventlog show`)
const InputKind kVerifierInput{"verifier input (JSON, PEM or COSE)", 1ull << 20};

}  // namespace redoubt::tools::input
