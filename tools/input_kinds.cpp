// The size limits of `redoubt`'s inputs (docs/running.md, "Input size limits"):
// each is what the simulated machine's pre-launch loader can place for that kind
// (platform/sim/loader.hpp LaunchLayout) or what the trusted code accepts
// (abi/boot_params.hpp), so nothing bigger could ever launch or be admitted.
#include "abi/boot_params.hpp"
#include "abi/slb_layout.hpp"
#include "platform/sim/loader.hpp"
#include "tools/common.hpp"

namespace redoubt::tools::input {
namespace {
constexpr sim::LaunchLayout kLayout{};
static_assert(kLayout.guest_images > kLayout.hv_image && kLayout.hv_memory > kLayout.guest_images);
}  // namespace

const InputKind kSlImage{"secure loader image", sl::kSlbSize};                                      // APM vol. 2 §15.27.4
const InputKind kHvImage{"hypervisor image", kLayout.guest_images - kLayout.hv_image};              // 15 MiB below the guests
const InputKind kHvManifest{"hypervisor manifest", kLayout.launch_policy - kLayout.manifest};       // 64 KiB slot
const InputKind kLaunchPolicy{"launch policy", sl::kMaxLaunchPolicy};                               // 64 KiB
const InputKind kGuestKernel{"guest kernel", kLayout.hv_memory - kLayout.guest_images};             // 32 MiB for all guests
const InputKind kGuestInitrd{"guest initrd", kLayout.hv_memory - kLayout.guest_images};
const InputKind kGuestManifest{"guest manifest", sl::kMaxGuestManifest};                            // 32 KiB
const InputKind kManifest{"manifest", kLayout.launch_policy - kLayout.manifest};                    // either kind
const InputKind kEventLog{"event log", 16ull << 20};  // a TCG log from any source (`eventlog show`)
const InputKind kVerifierInput{"verifier input (JSON, PEM or COSE)", 1ull << 20};

}  // namespace redoubt::tools::input
