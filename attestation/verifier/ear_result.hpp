// The verifier's signed answer: an EAR (IETF draft-ietf-rats-ar4si "EAT
// Attestation Results", Veraison EAR profile) JSON claims set, signed as a
// JWS compact serialization (RFC 7515 §7.1) with ES256 (RFC 7518 §3.4: raw r||s).
#pragma once
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "policy/host/keys.hpp"

namespace redoubt::attest {

inline constexpr char kEarProfile[] = "tag:github.com,2023:veraison/ear";

// Header {"alg":"ES256","typ":"JWT","kid":kid}; payload = claims.dump().
std::string jws_sign_es256(const nlohmann::json& claims, const policy::EvpKey& key, const std::string& kid);
// The same over a payload already serialised (claims.dump()), so that it is serialised once.
// With `raw_signature`, also the signature the JWS ends with as bytes (R || S): a store that keeps the
// JWS in parts (PostgreSQL, ear_parts.hpp) then need not decode what was just encoded.
std::string jws_sign_es256_payload(const std::string& payload, const policy::EvpKey& key, const std::string& kid,
                                   std::array<uint8_t, 64>* raw_signature = nullptr);
// Returns the claims; throws AttestError("bad_jws") if malformed or the signature does not verify.
nlohmann::json jws_verify_es256(const std::string& token, const policy::EvpKey& key);

}  // namespace redoubt::attest
