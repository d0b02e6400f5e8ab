// The guest side of `redoubt run` (issue 4): the project's demo PKI (generated
// on first use in <state>/demo/pki, docs/pki.md §6), a launch policy that trusts
// its root, and guest manifests signed by its leaf. For trying Redoubt out: a
// real owner and a real corporate PKI keep their private keys offline.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "policy/host/pki_sign.hpp"

namespace redoubt::tools {

// <state>/demo/pki with root, intermediate, leaf and owner keys (pki_init).
std::filesystem::path ensure_demo_pki(const std::filesystem::path& state,
                                      const std::function<void(const std::string&)>& say);

// A launch policy whose only anchor is `pki`/root.crt.pem, signed with
// `pki`/owner.key.pem, dated `time` (the policy's trusted "now").
std::vector<uint8_t> sign_pki_policy(const std::filesystem::path& pki, uint64_t time, const std::string& name);

// A guest manifest signed by `pki`/leaf.key.pem with the chain [leaf, intermediate].
std::vector<uint8_t> sign_guest_with_pki(const std::filesystem::path& pki, const std::vector<uint8_t>& kernel,
                                         const std::vector<uint8_t>* initrd, const policy::GuestManifestInput& in);

}  // namespace redoubt::tools
