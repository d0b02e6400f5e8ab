// The error codes Redoubt's simulated SINIT and GETSEC[SENTER] leave in TXT.ERRORCODE. The
// register's layout is the MLE DG's (Appendix B.1, txt_regs.hpp); the progress/error values are
// ACM-specific on real platforms (each SINIT release documents its own), these are Redoubt's and
// docs/intel.md "TXT error codes" lists them.
#pragma once
#include <cstdint>

#include "arch/intel/txt_evtypes.hpp"
#include "arch/intel/txt_regs.hpp"

namespace redoubt::arch::txt {

enum class TxtError : uint32_t {
  none = 0,
  // Processor-detected (external = 0): GETSEC[SENTER] refused the module; SINIT never ran.
  acm_malformed = errorcode::processor(0x01),        // header fields, size, info table
  acm_signature = errorcode::processor(0x02),        // key hash not the fused one, or signature invalid
  acm_revoked = errorcode::processor(0x03),          // TXT SVN below the chipset's revocation floor
  acm_wrong_chipset = errorcode::processor(0x04),    // header chipset id != TXT.DIDVID device id
  // SINIT-detected (external = 1, module type 1): progress code, error code.
  heap_malformed = errorcode::acm(0x10, 0x01),       // heap regions outside TXT.HEAP, sizes inconsistent
  heap_version = errorcode::acm(0x10, 0x02),         // BiosData/OsSinitData version unsupported
  mle_page_tables = errorcode::acm(0x11, 0x01),      // MLE page tables: missing, not 4K, not contiguous
  mle_header_guid = errorcode::acm(0x11, 0x02),      // no MLE header GUID at MLEHeaderBase
  mle_header_version = errorcode::acm(0x11, 0x03),   // version below the ACM's minimum (2.0)
  mle_header_range = errorcode::acm(0x11, 0x04),     // start/end/entry point outside the MLE
  pmr_malformed = errorcode::acm(0x12, 0x01),        // PMR base/size not 2 MiB aligned, low PMR above 4 GiB
  pmr_not_covering = errorcode::acm(0x12, 0x02),     // the MLE is not inside the requested PMRs
  rlp_not_wfs = errorcode::acm(0x13, 0x01),          // an AP (RLP) is not in wait-for-SIPI
  lcp_malformed = errorcode::acm(0x14, 0x01),        // the owner's LCP policy does not parse
  lcp_mle_not_allowed = errorcode::acm(0x14, 0x02),  // the MLE's hash is not in the policy
  event_log = errorcode::acm(0x15, 0x01),            // the event log container is unusable
};

inline const char* txt_error_name(TxtError e) {
  switch (e) {
    case TxtError::none: return "none";
    case TxtError::acm_malformed: return "acm_malformed";
    case TxtError::acm_signature: return "acm_signature";
    case TxtError::acm_revoked: return "acm_revoked";
    case TxtError::acm_wrong_chipset: return "acm_wrong_chipset";
    case TxtError::heap_malformed: return "heap_malformed";
    case TxtError::heap_version: return "heap_version";
    case TxtError::mle_page_tables: return "mle_page_tables";
    case TxtError::mle_header_guid: return "mle_header_guid";
    case TxtError::mle_header_version: return "mle_header_version";
    case TxtError::mle_header_range: return "mle_header_range";
    case TxtError::pmr_malformed: return "pmr_malformed";
    case TxtError::pmr_not_covering: return "pmr_not_covering";
    case TxtError::rlp_not_wfs: return "rlp_not_wfs";
    case TxtError::lcp_malformed: return "lcp_malformed";
    case TxtError::lcp_mle_not_allowed: return "lcp_mle_not_allowed";
    case TxtError::event_log: return "event_log";
  }
  return "unknown";
}


}  // namespace redoubt::arch::txt
