#include "tpm/tpm_rc.hpp"

#include <tss2/tss2_common.h>
#include <tss2/tss2_rc.h>

#include <cstdio>
#include <utility>

#include "tpm/tpm_device.hpp"

namespace redoubt::tpm {
namespace {

struct RcName {
  uint32_t code;
  const char* name;
};

// TPM 2.0 Part 2 §6.6 (TPM_RC): format-zero (VER1 = 0x100, WARN = 0x900) codes.
constexpr RcName kFormatZero[] = {
    {0x100, "TPM_RC_INITIALIZE"},   {0x101, "TPM_RC_FAILURE"},      {0x103, "TPM_RC_SEQUENCE"},
    {0x10B, "TPM_RC_PRIVATE"},      {0x119, "TPM_RC_HMAC"},         {0x120, "TPM_RC_DISABLED"},
    {0x121, "TPM_RC_EXCLUSIVE"},    {0x124, "TPM_RC_AUTH_TYPE"},    {0x125, "TPM_RC_AUTH_MISSING"},
    {0x126, "TPM_RC_POLICY"},       {0x127, "TPM_RC_PCR"},          {0x128, "TPM_RC_PCR_CHANGED"},
    {0x12D, "TPM_RC_UPGRADE"},      {0x12E, "TPM_RC_TOO_MANY_CONTEXTS"},
    {0x12F, "TPM_RC_AUTH_UNAVAILABLE"},                             {0x130, "TPM_RC_REBOOT"},
    {0x131, "TPM_RC_UNBALANCED"},   {0x142, "TPM_RC_COMMAND_SIZE"}, {0x143, "TPM_RC_COMMAND_CODE"},
    {0x144, "TPM_RC_AUTHSIZE"},     {0x145, "TPM_RC_AUTH_CONTEXT"}, {0x146, "TPM_RC_NV_RANGE"},
    {0x147, "TPM_RC_NV_SIZE"},      {0x148, "TPM_RC_NV_LOCKED"},    {0x149, "TPM_RC_NV_AUTHORIZATION"},
    {0x14A, "TPM_RC_NV_UNINITIALIZED"},                             {0x14B, "TPM_RC_NV_SPACE"},
    {0x14C, "TPM_RC_NV_DEFINED"},   {0x150, "TPM_RC_BAD_CONTEXT"},  {0x151, "TPM_RC_CPHASH"},
    {0x152, "TPM_RC_PARENT"},       {0x153, "TPM_RC_NEEDS_TEST"},   {0x154, "TPM_RC_NO_RESULT"},
    {0x155, "TPM_RC_SENSITIVE"},    {0x901, "TPM_RC_CONTEXT_GAP"},  {0x902, "TPM_RC_OBJECT_MEMORY"},
    {0x903, "TPM_RC_SESSION_MEMORY"}, {0x904, "TPM_RC_MEMORY"},     {0x905, "TPM_RC_SESSION_HANDLES"},
    {0x906, "TPM_RC_OBJECT_HANDLES"}, {0x907, "TPM_RC_LOCALITY"},   {0x908, "TPM_RC_YIELDED"},
    {0x909, "TPM_RC_CANCELED"},     {0x90A, "TPM_RC_TESTING"},      {0x910, "TPM_RC_REFERENCE_H0"},
    {0x918, "TPM_RC_REFERENCE_S0"}, {0x920, "TPM_RC_NV_RATE"},      {0x921, "TPM_RC_LOCKOUT"},
    {0x922, "TPM_RC_RETRY"},        {0x923, "TPM_RC_NV_UNAVAILABLE"},
};

// Format-one codes (bit 7 set): error number in bits 0..5, plus handle/parameter/session.
constexpr RcName kFormatOne[] = {
    {0x01, "TPM_RC_ASYMMETRIC"}, {0x02, "TPM_RC_ATTRIBUTES"}, {0x03, "TPM_RC_HASH"},
    {0x04, "TPM_RC_VALUE"},      {0x05, "TPM_RC_HIERARCHY"},  {0x07, "TPM_RC_KEY_SIZE"},
    {0x08, "TPM_RC_MGF"},        {0x09, "TPM_RC_MODE"},       {0x0A, "TPM_RC_TYPE"},
    {0x0B, "TPM_RC_HANDLE"},     {0x0C, "TPM_RC_KDF"},        {0x0D, "TPM_RC_RANGE"},
    {0x0E, "TPM_RC_AUTH_FAIL"},  {0x0F, "TPM_RC_NONCE"},      {0x10, "TPM_RC_PP"},
    {0x12, "TPM_RC_SCHEME"},     {0x15, "TPM_RC_SIZE"},       {0x16, "TPM_RC_SYMMETRIC"},
    {0x17, "TPM_RC_TAG"},        {0x18, "TPM_RC_SELECTOR"},   {0x1A, "TPM_RC_INSUFFICIENT"},
    {0x1B, "TPM_RC_SIGNATURE"},  {0x1C, "TPM_RC_KEY"},        {0x1D, "TPM_RC_POLICY_FAIL"},
    {0x1F, "TPM_RC_INTEGRITY"},  {0x20, "TPM_RC_TICKET"},     {0x21, "TPM_RC_RESERVED_BITS"},
    {0x22, "TPM_RC_BAD_AUTH"},   {0x23, "TPM_RC_EXPIRED"},    {0x24, "TPM_RC_POLICY_CC"},
    {0x25, "TPM_RC_BINDING"},    {0x26, "TPM_RC_CURVE"},      {0x27, "TPM_RC_ECC_POINT"},
};

}  // namespace

std::string tpm_rc_name(uint32_t rc) {
  if ((rc & 0xFFFF0000u) == 0) {  // TPM layer (not a TSS layer code)
    if (rc & 0x80) {
      const uint32_t e = rc & 0x3F;
      for (const auto& n : kFormatOne) {
        if (n.code == e) {
          const uint32_t num = (rc >> 8) & 0x7;
          std::string where;
          if (rc & 0x40) where = " (parameter " + std::to_string((rc >> 8) & 0xF) + ")";
          else if (rc & 0x800) where = " (session " + std::to_string(num) + ")";
          else if (num) where = " (handle " + std::to_string(num) + ")";
          return std::string(n.name) + where;
        }
      }
    } else {
      for (const auto& n : kFormatZero) {
        if (n.code == rc) return n.name;
      }
    }
  }
  return Tss2_RC_Decode(rc);
}

namespace {
thread_local std::string t_tcti_note;
}  // namespace

void note_tcti_failure(std::string why) { t_tcti_note = std::move(why); }

void throw_tpm_rc(const std::string& what, uint8_t locality, uint32_t rc) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%x", rc);
  std::string note;
  note.swap(t_tcti_note);
  if ((rc & 0xFF0000u) != TSS2_TCTI_RC_LAYER) note.clear();
  throw TpmError(what + " at locality " + std::to_string(locality) + ": " + tpm_rc_name(rc) + " (" +
                     hex + ")" + (note.empty() ? "" : ": " + note),
                 rc);
}

}  // namespace redoubt::tpm
