// JSON views of guest manifests and launch policies (`redoubt manifest show`).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

namespace redoubt::policy {

// The payload "type" of a COSE_Sign1 message ("" when it has none / does not parse).
std::string cose_payload_type(std::span<const uint8_t> cose_bytes);

// Parse-only views (no signature or chain check). Throw ManifestError with the
// decoder's message on malformed input.
nlohmann::json guest_manifest_to_json(std::span<const uint8_t> cose_bytes);
nlohmann::json launch_policy_to_json(std::span<const uint8_t> cose_bytes);

}  // namespace redoubt::policy
