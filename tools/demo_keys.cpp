#include "tools/demo_keys.hpp"

#include "policy/host/keys.hpp"

namespace redoubt::tools {

DemoKey ensure_demo_key(const std::filesystem::path& state, const std::function<void(const std::string&)>& say) {
  std::filesystem::path dir = state / "demo";
  DemoKey k{dir / "hv-signing.key.pem", dir / "hv-signing.pub.pem"};
  if (!std::filesystem::exists(k.private_pem) || !std::filesystem::exists(k.public_pem)) {
    std::filesystem::create_directories(dir);
    policy::generate_key_files("P-256", (dir / "hv-signing").string());
    say("[tool] generated the demo hypervisor-signing key (P-256) in " + dir.string());
  }
  return k;
}

}  // namespace redoubt::tools
