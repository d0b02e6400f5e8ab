// Verdict-change webhooks (issue 13): every change of an endpoint's status is
// POSTed to each configured URL, signed with HMAC-SHA256 (RFC 2104) under a
// shared secret so the receiver can trust it, and retried with exponential
// backoff until it is accepted. One worker and one ordered queue per URL: a
// dead receiver delays only its own deliveries. docs/api.md "Webhooks".
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace redoubt::attest {

struct WebhookOptions {
  std::vector<std::string> urls;  // http(s)://host[:port]/path each
  std::string secret;             // the shared HMAC key (at least 16 bytes)
  int backoff_ms = 1000;          // first retry after this, then doubled each time ...
  int max_backoff_ms = 60000;     // ... up to this
  int attempts = 8;               // then the event is dropped (and counted)
  int queue_limit = 1000;         // events waiting per URL; more are dropped (and counted)
};

// The signature header's value: "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
std::string webhook_signature(const std::string& secret, int64_t timestamp, const std::string& body);

struct WebhookCounts {
  uint64_t delivered = 0, retried = 0, dropped = 0;
};

class WebhookSender {
 public:
  explicit WebhookSender(WebhookOptions o);  // throws AttestError("bad_webhook") for a bad URL or a short secret
  ~WebhookSender();                          // stops: events still queued or being retried are abandoned
  void post(const nlohmann::json& event);    // queued for every URL; never blocks on the network
  WebhookCounts counts() const;

 private:
  struct Target;
  void run(Target& t);
  WebhookOptions o_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t next_id_ = 0;
  WebhookCounts counts_;
  std::vector<std::unique_ptr<Target>> targets_;
};

}  // namespace redoubt::attest
