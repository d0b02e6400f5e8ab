#include "attestation/service/agent_url.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "attestation/common/attest_error.hpp"

namespace redoubt::attest {
namespace {

[[noreturn]] void bad(const std::string& why) { throw AttestError("bad_agent_url", "agent_url " + why); }

bool all_of(const std::string& s, const char* set) { return !s.empty() && s.find_first_not_of(set) == std::string::npos; }

// RFC 1123 §2.1 / RFC 1035 §2.3.1: letters, digits and hyphens, labels of 1..63, 253 in all.
bool dns_name(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  size_t start = 0;
  for (;;) {
    const size_t dot = h.find('.', start);
    const std::string label = h.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    if (!all_of(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

bool in_prefix(const uint8_t* addr, const uint8_t* net, int prefix) {
  for (int i = 0; i < prefix; ++i) {
    const uint8_t m = static_cast<uint8_t>(0x80 >> (i % 8));
    if ((addr[i / 8] & m) != (net[i / 8] & m)) return false;
  }
  return true;
}

std::string numeric(int family, const uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, addr, buf, sizeof buf);
  return buf;
}

struct Special {
  const char* net;
  int prefix;
  const char* what;
};

// IANA special-purpose address registries (RFC 6890 and updates): never polled unless --agent-allow lists them.
constexpr Special kSpecial4[] = {
    {"0.0.0.0", 8, "\"this network\""},    {"10.0.0.0", 8, "private (RFC 1918)"},     {"100.64.0.0", 10, "shared address space (RFC 6598)"},
    {"127.0.0.0", 8, "loopback"},          {"169.254.0.0", 16, "link-local"},          {"172.16.0.0", 12, "private (RFC 1918)"},
    {"192.0.0.0", 24, "IETF protocol assignments"}, {"192.0.2.0", 24, "documentation"}, {"192.168.0.0", 16, "private (RFC 1918)"},
    {"198.18.0.0", 15, "benchmarking"},    {"198.51.100.0", 24, "documentation"},      {"203.0.113.0", 24, "documentation"},
    {"224.0.0.0", 4, "multicast"},         {"240.0.0.0", 4, "reserved or broadcast"},
};
constexpr Special kSpecial6[] = {
    {"2001::", 32, "Teredo (embeds an IPv4 address)"}, {"2001:db8::", 32, "documentation"}, {"2002::", 16, "6to4 (embeds an IPv4 address)"},
};

}  // namespace

std::string AgentUrl::base() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

AgentUrl parse_agent_url(const std::string& url) {
  if (url.empty()) bad("is missing: pull mode needs http(s)://host:port");
  if (url.size() > kAgentUrlMaxLength) bad("is " + std::to_string(url.size()) + " characters, more than " + std::to_string(kAgentUrlMaxLength));
  for (unsigned char c : url)
    if (c < 0x21 || c > 0x7e) bad("contains a space, a control or a non-ASCII character");
  const size_t sep = url.find("://");
  if (sep == std::string::npos) bad("must start with http:// or https://");
  AgentUrl u;
  u.scheme = url.substr(0, sep);
  if (u.scheme != "http" && u.scheme != "https") bad("scheme \"" + u.scheme + "\" is not http or https");
  std::string auth = url.substr(sep + 3);
  if (!auth.empty() && auth.back() == '/') auth.pop_back();
  if (auth.find('@') != std::string::npos) bad("must not carry userinfo (user:password@)");
  if (auth.find_first_of("/?#\\") != std::string::npos) bad("must not have a path, query or fragment (the verifier calls {agent_url}/v1/quote)");
  std::string port;
  if (!auth.empty() && auth.front() == '[') {  // RFC 3986 §3.2.2: an IPv6 literal in brackets
    const size_t close = auth.find(']');
    if (close == std::string::npos) bad("has an unclosed '[' in its host");
    u.host = auth.substr(1, close - 1);
    const std::string after = auth.substr(close + 1);
    if (!after.empty() && after.front() != ':') bad("has characters after the IPv6 host");
    if (!after.empty()) port = after.substr(1);
    uint8_t a[16];
    if (inet_pton(AF_INET6, u.host.c_str(), a) != 1) bad("host [" + u.host + "] is not an IPv6 address");
  } else {
    const size_t colon = auth.find(':');
    if (colon != std::string::npos && auth.find(':', colon + 1) != std::string::npos) bad("host: an IPv6 address must be in brackets");
    u.host = auth.substr(0, colon);
    if (colon != std::string::npos) port = auth.substr(colon + 1);
    uint8_t a[4];
    if (u.host.empty()) bad("has no host");
    if (all_of(u.host, "0123456789.")) {
      if (inet_pton(AF_INET, u.host.c_str(), a) != 1) bad("host " + u.host + " is not a dotted-quad IPv4 address");
    } else if (!dns_name(u.host)) {
      bad("host " + u.host + " is not a DNS name (letters, digits, '-', labels of 1..63)");
    }
    for (char& c : u.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (port.empty() && auth.find(':') != std::string::npos && auth.back() == ':') bad("has an empty port");
  if (port.empty()) {
    u.port = u.scheme == "https" ? 443 : 80;
  } else {
    if (!all_of(port, "0123456789") || port.size() > 5 || std::stoi(port) < 1 || std::stoi(port) > 65535)
      bad("port " + port + " is not 1..65535");
    u.port = std::stoi(port);
  }
  return u;
}

Cidr parse_cidr(const std::string& text) {
  Cidr c;
  const size_t slash = text.find('/');
  const std::string addr = text.substr(0, slash);
  if (inet_pton(AF_INET, addr.c_str(), c.addr) == 1) {
    c.family = AF_INET;
    c.prefix = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), c.addr) == 1) {
    c.family = AF_INET6;
    c.prefix = 128;
  } else {
    throw std::invalid_argument("--agent-allow " + text + ": not an IPv4 or IPv6 address or CIDR range");
  }
  if (slash != std::string::npos) {
    const std::string p = text.substr(slash + 1);
    if (!all_of(p, "0123456789") || p.size() > 3 || std::stoi(p) > c.prefix)
      throw std::invalid_argument("--agent-allow " + text + ": prefix length must be 0.." + std::to_string(c.prefix));
    c.prefix = std::stoi(p);
  }
  return c;
}

std::string AgentAllowList::why_not(int family, const uint8_t* addr) const {
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (family == AF_INET6 && std::memcmp(addr, kMapped, 12) == 0) {  // RFC 4291 §2.5.5.2: judge ::ffff:a.b.c.d as a.b.c.d
    family = AF_INET;
    addr += 12;
  }
  const std::string shown = numeric(family, addr);
  if (configured()) {
    for (const Cidr& c : ranges_)
      if (c.family == family && in_prefix(addr, c.addr, c.prefix)) return "";
    return shown + " is not in --agent-allow";
  }
  if (family == AF_INET) {
    for (const Special& s : kSpecial4) {
      uint8_t net[4];
      inet_pton(AF_INET, s.net, net);
      if (in_prefix(addr, net, s.prefix)) return shown + " is " + s.what + " (allow it with --agent-allow)";
    }
    return "";
  }
  static const uint8_t kGlobal[16] = {0x20};
  if (!in_prefix(addr, kGlobal, 3))  // RFC 4291 §2.4: global unicast is 2000::/3; loopback, ULA, link-local, multicast are not
    return shown + " is not a global unicast IPv6 address (allow it with --agent-allow)";
  for (const Special& s : kSpecial6) {
    uint8_t net[16];
    inet_pton(AF_INET6, s.net, net);
    if (in_prefix(addr, net, s.prefix)) return shown + " is " + s.what + " (allow it with --agent-allow)";
  }
  return "";
}

std::string AgentAllowList::resolve(const AgentUrl& u) const {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = getaddrinfo(u.host.c_str(), nullptr, &hints, &res); rc != 0)
    throw AttestError("agent_unresolvable", "agent_url host " + u.host + " does not resolve: " + gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, freeaddrinfo);
  std::string first;
  for (const addrinfo* a = res; a; a = a->ai_next) {
    const uint8_t* p = a->ai_family == AF_INET ? reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr)
                       : a->ai_family == AF_INET6 ? reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr)
                                                  : nullptr;
    if (!p) continue;
    if (const std::string why = why_not(a->ai_family, p); !why.empty())
      throw AttestError("agent_url_not_allowed", "agent_url host " + u.host + ": " + why, 403);
    if (first.empty()) first = numeric(a->ai_family, p);
  }
  if (first.empty()) throw AttestError("agent_unresolvable", "agent_url host " + u.host + " has no IPv4 or IPv6 address");
  return first;
}

}  // namespace redoubt::attest
