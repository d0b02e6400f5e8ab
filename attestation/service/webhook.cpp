#include "attestation/service/webhook.hpp"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <regex>

#include "attestation/common/attest_error.hpp"
#include "attestation/common/encoding.hpp"

namespace redoubt::attest {
using nlohmann::json;

namespace {
int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

std::string webhook_signature(const std::string& secret, int64_t timestamp, const std::string& body) {
  const std::string msg = std::to_string(timestamp) + "." + body;
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  // RFC 2104 HMAC with SHA-256 (FIPS 180-4), over "timestamp.body": a replayed body needs its old timestamp.
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const uint8_t*>(msg.data()), msg.size(), mac, &len))
    throw AttestError("internal", "HMAC-SHA256 failed", 500);
  return "sha256=" + to_hex(Bytes(mac, mac + len));
}

struct WebhookSender::Target {
  std::string url, base, path;
  std::deque<std::pair<std::string, std::string>> q;  // (delivery id, body)
  std::thread worker;
};

WebhookSender::WebhookSender(WebhookOptions o) : o_(std::move(o)) {
  if (o_.secret.size() < 16)
    throw AttestError("bad_webhook", "the webhook secret must be at least 16 bytes (e.g. `openssl rand -hex 32 > webhook.secret`)");
  static const std::regex url_re("(https?://[^/?#]+)(/[^#]*)?");
  for (const std::string& u : o_.urls) {
    std::smatch m;
    if (!std::regex_match(u, m, url_re)) throw AttestError("bad_webhook", "webhook URL " + u + " is not http(s)://host[:port][/path]");
    auto t = std::make_unique<Target>();
    t->url = u;
    t->base = m[1].str();
    t->path = m[2].matched ? m[2].str() : "/";
    targets_.push_back(std::move(t));
  }
  for (auto& t : targets_) t->worker = std::thread([this, p = t.get()] { run(*p); });
}

WebhookSender::~WebhookSender() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : targets_) t->worker.join();
}

void WebhookSender::post(const json& event) {
  const std::string body = event.dump(-1, ' ', false, json::error_handler_t::replace);
  Bytes rnd(16);
  if (RAND_bytes(rnd.data(), 16) != 1) throw AttestError("internal", "RAND_bytes failed", 500);
  std::lock_guard<std::mutex> l(mu_);
  // One delivery id per event, the same on every URL and attempt: a receiver drops duplicates by it.
  const std::string id = to_hex(rnd);
  for (auto& t : targets_) {
    if (static_cast<int>(t->q.size()) >= o_.queue_limit) {
      ++counts_.dropped;
      continue;
    }
    t->q.emplace_back(id, body);
  }
  cv_.notify_all();
}

WebhookCounts WebhookSender::counts() const {
  std::lock_guard<std::mutex> l(mu_);
  return counts_;
}

void WebhookSender::run(Target& t) {
  httplib::Client c(t.base);
  c.set_connection_timeout(2, 0);
  c.set_read_timeout(5, 0);
  c.set_write_timeout(5, 0);
  c.set_follow_location(false);
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || !t.q.empty(); });
    if (stop_) return;
    const auto [id, body] = t.q.front();
    int delay_ms = o_.backoff_ms;
    for (int attempt = 1;; ++attempt) {
      l.unlock();
      const int64_t ts = now_s();  // signed at each attempt, so a receiver's freshness window holds for retries
      httplib::Headers h = {{"X-Redoubt-Event", json::parse(body, nullptr, false).value("event", "verdict_changed")},
                            {"X-Redoubt-Delivery", id},
                            {"X-Redoubt-Attempt", std::to_string(attempt)},
                            {"X-Redoubt-Timestamp", std::to_string(ts)},
                            {"X-Redoubt-Signature", webhook_signature(o_.secret, ts, body)}};
      auto r = c.Post(t.path.c_str(), h, body, "application/json");
      l.lock();
      // 2xx: delivered. Transport errors, 5xx, 408 and 429 are worth another try (RFC 9110 §15.6,
      // §15.5.9, RFC 6585 §4); any other answer is the receiver's final word (a bad signature, say).
      const bool done = r && r->status >= 200 && r->status < 300;
      const bool retry = !r || r->status >= 500 || r->status == 408 || r->status == 429;
      if (done) {
        ++counts_.delivered;
        break;
      }
      if (!retry || attempt >= o_.attempts) {
        ++counts_.dropped;
        break;
      }
      ++counts_.retried;
      if (cv_.wait_for(l, std::chrono::milliseconds(delay_ms), [&] { return stop_; })) return;
      delay_ms = std::min(o_.max_backoff_ms, delay_ms * 2);
    }
    t.q.pop_front();
  }
}

}  // namespace redoubt::attest
