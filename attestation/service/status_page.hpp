// The fleet status page for IT (issue 13): GET /status serves one HTML
// document with its script and style inline and no external asset. The page
// itself holds no data (it is public, like /healthz); its script asks for a
// bearer token (a login form, or a link's #token= fragment, which never
// reaches the server or its logs), keeps it in sessionStorage and reads
// GET /v1/fleet with it (admin or relying-party). docs/verifier-auth.md
// "The fleet status page".
#pragma once
#include <string>

namespace redoubt::attest {

struct StatusPage {
  std::string html;  // the document
  std::string csp;   // its Content-Security-Policy: only its own inline script and style (by SHA-256), fetch to 'self'
};

// Built once (the CSP hashes are computed from the inline script and style).
const StatusPage& status_page();

}  // namespace redoubt::attest
