#include "tools/guest_signing.hpp"

#include <ctime>

#include "policy/host/keys.hpp"
#include "policy/host/pki_build.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {
namespace fs = std::filesystem;

fs::path ensure_demo_pki(const fs::path& state, const std::function<void(const std::string&)>& say) {
  const fs::path dir = state / "demo" / "pki";
  bool complete = true;
  for (const char* f : {"root.crt.pem", "intermediate.crt.pem", "leaf.crt.pem", "leaf.key.pem", "owner.key.pem",
                        "owner.pub.pem"})
    complete &= fs::exists(dir / f);
  if (!complete) {
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    // Valid from a day ago for ten years: the demo policy is dated "now".
    policy::pki_init(dir.string(), false, now - 86400, now + 10ll * 365 * 86400);
    say("[tool] generated the demo guest PKI (root -> guest-signing CA -> signer, owner key) in " + dir.string());
  }
  return dir;
}

std::vector<uint8_t> sign_pki_policy(const fs::path& pki, uint64_t time, const std::string& name) {
  policy::LaunchPolicyInput in;
  in.name = name;
  in.time = time;
  in.anchors.push_back(policy::cert_der(policy::load_cert((pki / "root.crt.pem").string()).get()));
  return policy::sign_launch_policy(in, policy::load_private_key((pki / "owner.key.pem").string()));
}

std::vector<uint8_t> sign_guest_with_pki(const fs::path& pki, const std::vector<uint8_t>& kernel,
                                         const std::vector<uint8_t>* initrd, const policy::GuestManifestInput& in) {
  std::vector<policy::Bytes> chain{policy::cert_der(policy::load_cert((pki / "leaf.crt.pem").string()).get()),
                                   policy::cert_der(policy::load_cert((pki / "intermediate.crt.pem").string()).get())};
  return policy::sign_guest_manifest(kernel, initrd, in, policy::load_private_key((pki / "leaf.key.pem").string()),
                                     chain);
}

}  // namespace redoubt::tools
