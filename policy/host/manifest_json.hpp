// Shows a signed hypervisor manifest (COSE_Sign1) as JSON for humans and tools.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>

namespace redoubt::policy {

// {"protected": {"alg", "kid"}, "unprotected": {...}, "payload": {type, name,
// version, svn, digest_alg, digest, size, signer}, "signature": hex}.
// Parses only (no signature check). Throws ManifestError (hv_manifest_build.hpp)
// carrying the decoder's message on malformed input.
nlohmann::json manifest_to_json(std::span<const uint8_t> cose_bytes);

}  // namespace redoubt::policy
