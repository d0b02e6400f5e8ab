// PCR17/18 after SINIT under the MLE DG's details/authorities mapping, computed independently of the
// simulator with OpenSSL (launch_fixture.hpp sha/extend) from the ACM, the MLE, the capabilities the MLE
// chose and the owner's policy: the expected values docs/pcr-map.md "Intel TXT (SENTER)" lists.
#pragma once
#include <cstdint>
#include <cstring>

#include "tests/support/launch_fixture.hpp"

namespace redoubt::test {

inline Bytes le32(uint32_t v) { return Bytes{uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)}; }

// The ACM header's RSA modulus || exponent (SDM vol. 2D AC module header offsets 0x80 and 0x180).
inline Bytes acm_signer_key(const Bytes& acm) { return Bytes(acm.begin() + 0x80, acm.begin() + 0x80 + 260); }

// PCR17: H(ACM) by the processor, then BiosAcmID (20 zero bytes), S-CRTM status (0), PolicyControl,
// [the policy], the STM hash (20 zero bytes), OsSinitData.Capabilities, the MLE.
inline Bytes txt_da_pcr17(const char* alg, size_t n, const Bytes& acm, const Bytes& mle, uint32_t caps, uint32_t policy_control = 0,
                          const Bytes& lcp = {}) {
  Bytes p = extend(alg, zeros(n), sha(alg, acm));
  p = extend(alg, p, sha(alg, zeros(20)));
  p = extend(alg, p, sha(alg, le32(0)));
  p = extend(alg, p, sha(alg, le32(policy_control)));
  if (!lcp.empty()) p = extend(alg, p, sha(alg, lcp));
  p = extend(alg, p, sha(alg, zeros(20)));
  p = extend(alg, p, sha(alg, le32(caps)));
  return extend(alg, p, sha(alg, mle));
}

// PCR18: the ACM signer's key, the S-CRTM status, the capabilities, PolicyControl, [the policy].
inline Bytes txt_da_pcr18(const char* alg, size_t n, const Bytes& acm, uint32_t caps, uint32_t policy_control = 0, const Bytes& lcp = {}) {
  Bytes p = extend(alg, zeros(n), sha(alg, acm_signer_key(acm)));
  p = extend(alg, p, sha(alg, le32(0)));
  p = extend(alg, p, sha(alg, le32(caps)));
  p = extend(alg, p, sha(alg, le32(policy_control)));
  if (!lcp.empty()) p = extend(alg, p, sha(alg, lcp));
  return p;
}

}  // namespace redoubt::test
