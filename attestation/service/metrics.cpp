#include "attestation/service/metrics.hpp"

#include <sstream>

namespace redoubt::attest {

void HttpMetrics::appraisal(const std::string& status, double seconds) {
  std::lock_guard<std::mutex> l(mu_);
  ++appraisals_[status];
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) {
      ++buckets_[i];
      break;
    }
  ++count_;
  sum_ += seconds;
}

void HttpMetrics::request(const std::string& route, int status) {
  std::lock_guard<std::mutex> l(mu_);
  ++requests_[{route, status}];
}

void HttpMetrics::store_error() {
  std::lock_guard<std::mutex> l(mu_);
  ++store_errors_;
}

std::string HttpMetrics::render(const std::map<std::string, int64_t>& endpoints_by_status) const {
  std::lock_guard<std::mutex> l(mu_);
  std::ostringstream o;
  o.precision(10);
  o << "# HELP redoubt_appraisals_total Verdicts made, by result.\n# TYPE redoubt_appraisals_total counter\n";
  for (const char* s : {"affirming", "warning", "contraindicated"}) {
    auto it = appraisals_.find(s);
    o << "redoubt_appraisals_total{result=\"" << s << "\"} " << (it == appraisals_.end() ? 0 : it->second) << "\n";
  }
  // Prometheus histogram: cumulative buckets with "le", then +Inf, _sum and _count.
  o << "# HELP redoubt_appraisal_duration_seconds Time to answer an evidence or one-shot request that made a verdict.\n"
       "# TYPE redoubt_appraisal_duration_seconds histogram\n";
  uint64_t cum = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    cum += buckets_[i];
    o << "redoubt_appraisal_duration_seconds_bucket{le=\"" << kBuckets[i] << "\"} " << cum << "\n";
  }
  o << "redoubt_appraisal_duration_seconds_bucket{le=\"+Inf\"} " << count_ << "\n";
  o << "redoubt_appraisal_duration_seconds_sum " << sum_ << "\n";
  o << "redoubt_appraisal_duration_seconds_count " << count_ << "\n";
  o << "# HELP redoubt_endpoints Enrolled endpoints by the status a relying party sees now.\n# TYPE redoubt_endpoints gauge\n";
  for (const auto& [s, n] : endpoints_by_status) o << "redoubt_endpoints{status=\"" << s << "\"} " << n << "\n";
  o << "# HELP redoubt_store_errors_total Requests that failed on the database.\n# TYPE redoubt_store_errors_total counter\n";
  o << "redoubt_store_errors_total " << store_errors_ << "\n";
  o << "# HELP redoubt_http_requests_total Requests answered, by route and HTTP status.\n# TYPE redoubt_http_requests_total counter\n";
  for (const auto& [k, n] : requests_) o << "redoubt_http_requests_total{route=\"" << k.first << "\",code=\"" << k.second << "\"} " << n << "\n";
  return o.str();
}

std::string render_lifecycle_metrics(uint64_t stale_marked, uint64_t sent, uint64_t failed, uint64_t retried, const LeaseCounts& leases) {
  std::ostringstream o;
  auto family = [&](const char* name, const char* type, const char* help) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << "\n";
  };
  auto one = [&](const char* name, const char* type, const char* help, auto value) {
    family(name, type, help);
    o << name << ' ' << value << "\n";
  };
  one("redoubt_endpoints_marked_stale_total", "counter",
      "Endpoints this instance marked stale or unreachable (once per silence, by the lease holder).", stale_marked);
  family("redoubt_webhook_deliveries_total", "counter",
         "Webhook delivery attempts by outcome: sent (accepted), failed (given up), retried.");
  o << "redoubt_webhook_deliveries_total{result=\"sent\"} " << sent << "\n"
    << "redoubt_webhook_deliveries_total{result=\"failed\"} " << failed << "\n"
    << "redoubt_webhook_deliveries_total{result=\"retried\"} " << retried << "\n";
  one("redoubt_leases_held", "gauge", "Endpoints whose lease this instance held after its last lease round.", leases.held);
  one("redoubt_live_instances", "gauge", "Verifier instances with an unexpired heartbeat, this one included, at its last lease round.",
      leases.live_instances);
  one("redoubt_lease_rounds_total", "counter", "Lease rounds this instance completed.", leases.rounds);
  one("redoubt_leases_taken_over_total", "counter", "Leases this instance took from an instance whose lease had expired.", leases.taken_over);
  return o.str();
}

}  // namespace redoubt::attest
