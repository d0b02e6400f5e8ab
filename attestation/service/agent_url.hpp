// Pull mode: which agent URLs the verifier will poll (docs/api.md "Pull mode",
// issue 16 item 4). A URL is only a scheme, a host and a port; its host must
// resolve to addresses the operator allows: with --agent-allow CIDR only those
// ranges, by default only global unicast addresses (no loopback, link-local,
// private, multicast or reserved ranges). Checked at enrolment and again, on
// the resolved address the poller then connects to, at every poll.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace redoubt::attest {

inline constexpr size_t kAgentUrlMaxLength = 256;

struct AgentUrl {
  std::string scheme;  // "http" | "https"
  std::string host;    // a DNS name or an IP literal (IPv6 without brackets)
  int port = 0;
  std::string base() const;  // scheme://host:port (IPv6 in brackets)
};

// Throws AttestError("bad_agent_url", cause) naming what is wrong (scheme, userinfo, host, port, path, length).
AgentUrl parse_agent_url(const std::string& url);

struct Cidr {
  int family = 0;  // AF_INET | AF_INET6
  uint8_t addr[16] = {};
  int prefix = 0;
};

// "10.0.0.0/8", "127.0.0.1" (= /32), "::1", "fd00::/8". Throws std::invalid_argument naming the text.
Cidr parse_cidr(const std::string& text);

class AgentAllowList {
 public:
  AgentAllowList() = default;  // the default rule: global unicast addresses only
  explicit AgentAllowList(std::vector<Cidr> ranges) : ranges_(std::move(ranges)) {}
  bool configured() const { return !ranges_.empty(); }
  // "" if allowed, else why not ("127.0.0.1 is loopback", "10.1.2.3 is not in --agent-allow").
  std::string why_not(int family, const uint8_t* addr) const;
  // Resolves the host; every address must be allowed. Returns the numeric address to connect to.
  // Throws AttestError agent_unresolvable (400) or agent_url_not_allowed (403).
  std::string resolve(const AgentUrl& u) const;

 private:
  std::vector<Cidr> ranges_;
};

}  // namespace redoubt::attest
