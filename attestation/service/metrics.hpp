// The verifier's /metrics (issue 13), in the Prometheus text exposition format
// 0.0.4: appraisals by result, an appraisal latency histogram, requests by route
// and status, store errors, and (gauges, computed when scraped) endpoints by status.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace redoubt::attest {

class HttpMetrics {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

  void appraisal(const std::string& status, double seconds);  // a verdict was made (evidence or one-shot)
  void request(const std::string& route, int status);
  void store_error();
  std::string render(const std::map<std::string, int64_t>& endpoints_by_status) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> appraisals_;
  std::array<uint64_t, kBuckets.size()> buckets_{};  // not cumulative here; summed when rendered
  uint64_t count_ = 0;
  double sum_ = 0;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t store_errors_ = 0;
};

// What this instance's lease rounds found (issue 13, several instances): the endpoints it holds and
// the live instances (gauges, as of its last round), and the leases it took over from dead instances.
struct LeaseCounts {
  int64_t held = 0, live_instances = 0;
  uint64_t rounds = 0, taken_over = 0;
};

// Lifecycle counters (issue 13): endpoints this instance marked stale/unreachable (each silence once,
// fleet-wide), and webhook deliveries sent, failed (dropped after the last attempt or refused) and retried.
std::string render_lifecycle_metrics(uint64_t stale_marked, uint64_t webhook_sent, uint64_t webhook_failed, uint64_t webhook_retried,
                                     const LeaseCounts& leases);

}  // namespace redoubt::attest
