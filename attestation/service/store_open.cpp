// open_store: the backend is chosen by the location's form (docs/operations.md "Storage").
#include <regex>

#include "attestation/common/attest_error.hpp"

#include "attestation/service/verifier_store.hpp"
#include "attestation/service/verifier_store_pg.hpp"

namespace redoubt::attest {

std::string redact_store_location(const std::string& location) {
  // RFC 3986 §3.2.1 userinfo "user:password@": the password goes; also a password=... parameter.
  static const std::regex userinfo(R"(^(postgres(?:ql)?://[^:/@?]*):[^@/?]*@)");
  static const std::regex param(R"(([?&]password=)[^&]*)");
  return std::regex_replace(std::regex_replace(location, userinfo, "$1:***@"), param, "$1***");
}

std::unique_ptr<VerifierStore> open_store(const std::string& location) {
  if (location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0) return std::make_unique<PgStore>(location);
  if (location.rfind("sqlite:", 0) == 0) {
    const std::string path = location.substr(7);
    if (path.empty()) throw AttestError("db", "sqlite: needs a path (sqlite:/var/lib/redoubt/verifier.db)", 500);
    return std::make_unique<SqliteStore>(path);
  }
  if (location.find("://") != std::string::npos)
    throw AttestError("db", "unknown store " + redact_store_location(location) + ": use postgresql://..., sqlite:PATH or a file path", 500);
  return std::make_unique<SqliteStore>(location);
}

}  // namespace redoubt::attest
