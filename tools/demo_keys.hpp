// The demo hypervisor-signing key, generated on first use in the state
// directory. For trying Redoubt out only: a real owner keeps the private key
// offline (docs/running.md).
#pragma once
#include <filesystem>
#include <functional>
#include <string>

namespace redoubt::tools {

struct DemoKey {
  std::filesystem::path private_pem;
  std::filesystem::path public_pem;
};

DemoKey ensure_demo_key(const std::filesystem::path& state, const std::function<void(const std::string&)>& say);

}  // namespace redoubt::tools
