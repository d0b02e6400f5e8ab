#include "attestation/verifier/event_order.hpp"

#include <algorithm>
#include <map>
#include <span>

#include "attestation/verifier/log_event_text.hpp"
#include "arch/intel/txt_evtypes.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/drtm_marker.hpp"

namespace redoubt::attest {
namespace {

using policy::LogEvent;
namespace pm = policy;
namespace tx = arch::txt::evtype;

bool is_cap(uint32_t type) { return type == pm::kEvLaunchFailed || type == tx::kCapValue; }

// The PCRs each event type belongs on (docs/pcr-map.md "Event types"); empty: not a DRTM event type.
std::vector<uint32_t> pcrs_of(uint32_t type) {
  switch (type) {
    case pm::kEvSkinitSlb:
    case pm::kEvHvManifest:
    case pm::kEvHvImage:
    case pm::kEvLaunchPolicy: return {17};
    case pm::kEvHvSigner:
    case pm::kEvGuestAnchor: return {18};
    case pm::kEvGuestChain:
    case pm::kEvGuestUnsigned: return {19};
    case pm::kEvGuestManifest:
    case pm::kEvGuestImage: return {20};
    case pm::kEvGuestRefused: return {19, 20};
    case pm::kEvLaunchFailed: return {17, 18};
    case pm::kEvHvFailed: return {17, 18, 19, 20};
    case pm::kEvSeparator: return {17, 18, 19, 20};
    // Intel TXT, the details/authorities mapping SINIT measures (platform/sim/txt/sinit_measure.cpp).
    case tx::kHashStart:
    case tx::kBiosAcRegData:
    case tx::kLcpDetailsHash:
    case tx::kStmHash:
    case tx::kMleHash: return {17};
    case tx::kSinitPubkeyHash:
    case tx::kLcpAuthoritiesHash: return {18};
    case tx::kCpuScrtmStat:
    case tx::kOsSinitDataCapHash:
    case tx::kLcpControlHash:
    case tx::kCapValue: return {17, 18};
    default: return {};  // EV_NO_ACTION included: the DRTM log carries none after its header but the emulated-DRTM marker (docs/formats.md)
  }
}

std::string pcr_list(const std::vector<uint32_t>& p) {
  std::string s;
  for (size_t i = 0; i < p.size(); ++i) s += (i == 0 ? "PCR" : i + 1 == p.size() ? " or PCR" : ", PCR") + std::to_string(p[i]);
  return s;
}

// Names the first kMaxEventOrderFindings unexpected events, counts the rest.
class Reporter {
 public:
  explicit Reporter(Findings& f) : f_(f) {}
  void fail(const char* code, const LogEvent& e, const std::string& why, nlohmann::json d = nlohmann::json::object()) {
    if (named_ == kMaxEventOrderFindings) {
      ++more_;
      return;
    }
    ++named_;
    d["event"] = event_json(e);
    f_.fail(code, event_text(e) + ": " + why, std::move(d));
  }
  void finish() {
    if (more_)
      f_.fail("event_unexpected_more",
              std::to_string(more_) + " more unexpected events (the first " + std::to_string(kMaxEventOrderFindings) + " are named above)",
              {{"count", more_}});
  }

 private:
  Findings& f_;
  size_t named_ = 0, more_ = 0;
};

// One SL PCR's measurements in order (sl/secure_loader.cpp verify_and_measure, docs/pcr-map.md):
// PCR17 = SKINIT_SLB, HV_MANIFEST, HV_IMAGE, [LAUNCH_POLICY], SEPARATOR; PCR18 = HV_SIGNER, GUEST_ANCHOR*, SEPARATOR.
struct Step {
  uint32_t type;
  bool repeated;
};
constexpr Step kPcr17[] = {{pm::kEvSkinitSlb, false}, {pm::kEvHvManifest, false}, {pm::kEvHvImage, false}, {pm::kEvLaunchPolicy, false}, {pm::kEvSeparator, false}};
constexpr Step kPcr18[] = {{pm::kEvHvSigner, false}, {pm::kEvGuestAnchor, true}, {pm::kEvSeparator, false}};
// Intel TXT: SINIT's details/authorities events first (the optional policy ones only with an owner
// policy), then the SL's, which continues SINIT's log (sl/secure_loader.cpp continue_sinit_log).
constexpr Step kTxtPcr17[] = {{tx::kHashStart, false},      {tx::kBiosAcRegData, false},      {tx::kCpuScrtmStat, false},
                              {tx::kLcpControlHash, false}, {tx::kLcpDetailsHash, false},     {tx::kStmHash, false},
                              {tx::kOsSinitDataCapHash, false}, {tx::kMleHash, false},        {pm::kEvHvManifest, false},
                              {pm::kEvHvImage, false},      {pm::kEvLaunchPolicy, false},     {pm::kEvSeparator, false}};
constexpr Step kTxtPcr18[] = {{tx::kSinitPubkeyHash, false}, {tx::kCpuScrtmStat, false}, {tx::kOsSinitDataCapHash, false},
                              {tx::kLcpControlHash, false},  {tx::kLcpAuthoritiesHash, false}, {pm::kEvHvSigner, false},
                              {pm::kEvGuestAnchor, true},    {pm::kEvSeparator, false}};

// Where the SL records each of its events in time, across PCR17 and PCR18 (the same source order).
int sl_rank(const LogEvent& e) {
  switch (e.type) {
    case pm::kEvSkinitSlb: return 0;
    case tx::kHashStart: case tx::kBiosAcRegData: case tx::kCpuScrtmStat: case tx::kLcpControlHash: case tx::kLcpDetailsHash:
    case tx::kStmHash: case tx::kOsSinitDataCapHash: case tx::kMleHash: case tx::kSinitPubkeyHash: case tx::kLcpAuthoritiesHash:
      return 0;  // SINIT's, before the SL's (its PCR17 and PCR18 events each in their own order)
    case pm::kEvHvManifest: return 1;
    case pm::kEvHvImage: return 2;
    case pm::kEvHvSigner: return 3;
    case pm::kEvLaunchPolicy: return 4;
    case pm::kEvGuestAnchor: return 5;
    case pm::kEvSeparator: return e.pcr == 17 ? 6 : 7;
    default: return e.pcr == 17 ? 8 : 9;  // EV_REDOUBT_LAUNCH_FAILED: the cap, after whatever was measured
  }
}

class SlPcr {
 public:
  SlPcr(uint32_t pcr, std::span<const Step> steps) : pcr_(pcr), steps_(steps) {}

  // "" when `e` is where the SL records it on this PCR; else the finding code, with `why`.
  const char* accept(const LogEvent& e, const LaunchEvents& launch, std::string& why, nlohmann::json& d) {
    const std::string P = "PCR" + std::to_string(pcr_);
    if (is_cap(e.type)) {
      if (failed_) return dup(e, *failed_, why, d);
      // The SL caps PCR17 after its separator only when PCR18's separator failed (sl/secure_loader.cpp cap()).
      if (closed_ && !(pcr_ == 17 && !launch.pcr18_closed)) return after_close(why, d);
      failed_ = &e;
      return "";
    }
    if (launch.failed) {
      why = "logged after the launch was refused (" + event_text(*launch.failed) + "): the SL measures nothing after its cap";
      d["after_event"] = event_json(*launch.failed);
      return "event_out_of_order";
    }
    for (const Step& s : steps_)
      if (s.type == e.type && !s.repeated && first_.count(e.type)) return dup(e, *first_.at(e.type), why, d);
    if (closed_) return after_close(why, d);
    for (size_t q = pos_; q < steps_.size(); ++q) {
      if (steps_[q].type != e.type) continue;
      pos_ = steps_[q].repeated ? q : q + 1;  // a skipped step shows as a missing event (launch_incomplete)
      first_.emplace(e.type, &e);
      if (e.type == pm::kEvSeparator) closed_ = &e;
      return "";
    }
    std::string want;
    for (size_t q = pos_; q < steps_.size(); ++q) want += (want.empty() ? "" : ", ") + std::string(pm::event_type_name(steps_[q].type));
    why = P + " has " + pm::event_type_name(e.type) + " earlier in the SL's order; what may follow here: " + want;
    d["expected"] = want;
    return "event_out_of_order";
  }
  const LogEvent* closed() const { return closed_; }

 private:
  const char* dup(const LogEvent& e, const LogEvent& first, std::string& why, nlohmann::json& d) const {
    why = std::string("a launch records one ") + pm::event_type_name(e.type) + " on PCR" + std::to_string(pcr_) + "; event #" +
          std::to_string(first.index) + " is the first";
    d["first"] = event_json(first);
    return "event_duplicated";
  }
  const char* after_close(std::string& why, nlohmann::json& d) const {
    why = "logged after PCR" + std::to_string(pcr_) + "'s EV_SEPARATOR (event #" + std::to_string(closed_->index) +
          "), which closes the SL's measurements";
    d["after_event"] = event_json(*closed_);
    return "event_out_of_order";
  }

  uint32_t pcr_;
  std::span<const Step> steps_;
  size_t pos_ = 0;
  std::map<uint32_t, const LogEvent*> first_;
  const LogEvent* closed_ = nullptr;
  const LogEvent* failed_ = nullptr;
};

// The hypervisor's guest measurements in log order (hypervisor/core/guest_admission.cpp): per guest
// CHAIN(19) MANIFEST(20) | UNSIGNED(19) IMAGE(20) [IMAGE(20)] | REFUSED(19) REFUSED(20); then
// SEPARATOR on 19 and 20.
class GuestOrder {
 public:
  // "" when `e` comes where the hypervisor records it; else the finding code, with `why`.
  const char* accept(const LogEvent& e, std::string& why, nlohmann::json& d) {
    const bool on19 = e.pcr == 19;
    switch (state_) {
      case State::image1:
        if (!on19 && e.type == pm::kEvGuestImage) return go(State::start, e);  // the initrd
        [[fallthrough]];
      case State::start:
        if (on19 && e.type == pm::kEvGuestChain) return go(State::chain, e);
        if (on19 && e.type == pm::kEvGuestUnsigned) return go(State::unsigned_, e);
        if (on19 && e.type == pm::kEvGuestRefused) return go(State::refused, e);
        if (on19 && e.type == pm::kEvSeparator) return sep19_ = &e, go(State::sep19, e);
        return expected("a guest's PCR19 event (EV_REDOUBT_GUEST_CHAIN, EV_REDOUBT_GUEST_UNSIGNED or EV_REDOUBT_GUEST_REFUSED) or PCR19's EV_SEPARATOR",
                        why, d);
      case State::chain:
        if (!on19 && e.type == pm::kEvGuestManifest) return go(State::start, e);
        return expected("the EV_REDOUBT_GUEST_MANIFEST on PCR20 of the guest of event #" + std::to_string(last_->index), why, d);
      case State::unsigned_:
        if (!on19 && e.type == pm::kEvGuestImage) return go(State::image1, e);
        return expected("the EV_REDOUBT_GUEST_IMAGE on PCR20 of the unsigned guest of event #" + std::to_string(last_->index), why, d);
      case State::refused:
        if (!on19 && e.type == pm::kEvGuestRefused) return go(State::start, e);
        return expected("the EV_REDOUBT_GUEST_REFUSED on PCR20 of event #" + std::to_string(last_->index), why, d);
      case State::sep19:
        if (!on19 && e.type == pm::kEvSeparator) return sep20_ = &e, go(State::closed, e);
        return expected("PCR20's EV_SEPARATOR after event #" + std::to_string(last_->index), why, d);
      case State::closed: break;
    }
    const LogEvent* sep = on19 ? sep19_ : sep20_;
    if (e.type == pm::kEvSeparator) {
      why = "a second EV_SEPARATOR on PCR" + std::to_string(e.pcr) + "; event #" + std::to_string(sep->index) + " is the first";
      d["first"] = event_json(*sep);
      return "event_duplicated";
    }
    why = "logged after PCR" + std::to_string(e.pcr) + "'s EV_SEPARATOR (event #" + std::to_string(sep->index) +
          "), which closes the hypervisor's guest measurements";
    d["after_event"] = event_json(*sep);
    return "event_out_of_order";
  }

 private:
  enum class State { start, chain, unsigned_, image1, refused, sep19, closed };
  const char* go(State s, const LogEvent& e) {
    state_ = s;
    last_ = &e;
    return "";
  }
  static const char* expected(const std::string& what, std::string& why, nlohmann::json& d) {
    why = "the hypervisor records " + what + " here";
    d["expected"] = what;
    return "event_out_of_order";
  }
  State state_ = State::start;
  const LogEvent *last_ = nullptr, *sep19_ = nullptr, *sep20_ = nullptr;
};

}  // namespace

OrderedLog check_event_order(const policy::EventLog& log, const std::set<uint32_t>& quoted_pcrs, const std::string& quote_text, Findings& f) {
  OrderedLog out;
  out.expected.reserve(log.events.size());
  LaunchEvents& L = out.launch;
  Reporter report(f);
  // Intel TXT when the first PCR17 event (the marker aside) is SINIT's HASH_START.
  for (const LogEvent& e : log.events)
    if (e.pcr == 17 && !policy::claims_emulated_drtm_marker(e)) {
      L.intel = e.type == tx::kHashStart;
      break;
    }
  // SINIT's legacy PCR mapping (MLE DG "PCR Usage"): one EV_TXT_COMBINED_HASH of the details on PCR17,
  // the MLE on PCR18. Refused by name, not appraised (docs/attestation.md "Intel TXT"): the SL asks for
  // details/authorities (OsSinitData.Capabilities bit 5), and under legacy the ACM's signer and the
  // policy control are not events of their own, so the txt reference values could not be checked.
  bool legacy = false;
  if (L.intel)
    for (const LogEvent& e : log.events)
      if (e.pcr == 17 && e.type == tx::kCombinedHash) legacy = true;
  SlPcr p17(17, L.intel ? std::span<const Step>(kTxtPcr17) : std::span<const Step>(kPcr17)),
      p18(18, L.intel ? std::span<const Step>(kTxtPcr18) : std::span<const Step>(kPcr18));
  GuestOrder guests;
  const LogEvent* latest_sl = nullptr;  // the SL event latest in the SL's own order so far
  std::map<uint32_t, const LogEvent*> hv_failed_on;  // PCR -> its EV_REDOUBT_HV_FAILED

  for (const LogEvent& e : log.events) {
    // 0. The emulated-DRTM marker (and anything claiming to be it) is check_drtm_origin's, wherever it is.
    if (policy::claims_emulated_drtm_marker(e)) continue;
    // 1. Only what the quote covers was replayed; only the map's types, on the map's PCRs.
    if (!quoted_pcrs.count(e.pcr)) {
      report.fail("event_unquoted_pcr", e, "PCR" + std::to_string(e.pcr) + " is not in the quote (" + quote_text + "): nothing shows the TPM measured it",
                  {{"quoted", quote_text}});
      continue;
    }
    if (legacy && ((e.pcr == 17 && e.type == tx::kCombinedHash) || (e.pcr == 18 && e.type == tx::kMleHash))) {
      report.fail("txt_legacy_pcr_mapping", e,
                  "SINIT measured with the legacy PCR mapping (the details as one EV_TXT_COMBINED_HASH on PCR17, the MLE on "
                  "PCR18), not the details/authorities mapping the secure loader asks for (OsSinitData.Capabilities bit 5): "
                  "the ACM's signer and policy control are not events of their own, so the txt reference values cannot be "
                  "checked; only details/authorities logs are appraised",
                  {{"pcr_mapping", "legacy"}});
      continue;
    }
    const std::vector<uint32_t> where = pcrs_of(e.type);
    if (where.empty()) {
      report.fail("event_unknown_type", e, "type 0x" + to_hex(Bytes{uint8_t(e.type >> 24), uint8_t(e.type >> 16), uint8_t(e.type >> 8), uint8_t(e.type)}) +
                                               " is not a DRTM event of the PCR map (docs/pcr-map.md)");
      continue;
    }
    if (std::find(where.begin(), where.end(), e.pcr) == where.end()) {
      report.fail("event_wrong_pcr", e, std::string(pm::event_type_name(e.type)) + " belongs on " + pcr_list(where), {{"expected_pcr", where}});
      continue;
    }
    std::string why;
    nlohmann::json d = nlohmann::json::object();
    // 2a. The hypervisor's failure cap (hypervisor/core/fail_closed.cpp): once on each of PCR17-20,
    //     after the SL closed PCR17 and PCR18 (the hypervisor ran), never after a refused launch.
    if (e.type == pm::kEvHvFailed) {
      if (L.failed) {
        report.fail("event_out_of_order", e, "the launch was refused (" + event_text(*L.failed) + "): no hypervisor ran to fail",
                    {{"after_event", event_json(*L.failed)}});
      } else if (!L.pcr17_closed || !L.pcr18_closed) {
        report.fail("event_out_of_order", e, "logged before the SL closed PCR17 and PCR18: the hypervisor runs after the SL");
      } else if (auto it = hv_failed_on.find(e.pcr); it != hv_failed_on.end()) {
        report.fail("event_duplicated", e, "the hypervisor caps each PCR once; event #" + std::to_string(it->second->index) + " is the first",
                    {{"first", event_json(*it->second)}});
      } else {
        hv_failed_on.emplace(e.pcr, &e);
        if (!L.hv_failed) L.hv_failed = &e;
      }
      continue;
    }
    // 2. The SL's PCRs: each in its own order, and the two together in the order the SL measures.
    if (e.pcr == 17 || e.pcr == 18) {
      if (L.hv_failed) {
        report.fail("event_out_of_order", e, "logged after the hypervisor's failure cap (" + event_text(*L.hv_failed) + "): nothing is measured after it",
                    {{"after_event", event_json(*L.hv_failed)}});
        continue;
      }
      if (const char* code = (e.pcr == 17 ? p17 : p18).accept(e, L, why, d); *code) {
        report.fail(code, e, why, d);
        continue;
      }
      if (latest_sl && sl_rank(e) < sl_rank(*latest_sl))
        report.fail("event_out_of_order", e, "logged after " + event_text(*latest_sl) + ", but the SL measures it before",
                    {{"after_event", event_json(*latest_sl)}});
      else
        latest_sl = &e;
      switch (e.type) {
        case pm::kEvSkinitSlb: L.slb = &e; break;
        case pm::kEvHvManifest: L.manifest = &e; break;
        case pm::kEvHvImage: L.image = &e; break;
        case pm::kEvHvSigner: L.signer = &e; break;
        case pm::kEvLaunchPolicy: L.policy = &e; break;
        case pm::kEvGuestAnchor: L.anchors.push_back(&e); break;
        case pm::kEvLaunchFailed:
        case tx::kCapValue:
          if (!L.failed) L.failed = &e;
          break;
        case tx::kHashStart: L.acm = &e; break;
        case tx::kMleHash: L.mle = &e; break;
        case tx::kSinitPubkeyHash: L.sinit_signer = &e; break;
        case tx::kLcpDetailsHash: L.lcp_details = &e; break;
        case tx::kLcpControlHash:
          if (e.pcr == 17) L.lcp_control = &e;
          break;
        default: break;
      }
      L.pcr17_closed = p17.closed() != nullptr;
      L.pcr18_closed = p18.closed() != nullptr;
      out.expected.push_back(&e);
      continue;
    }
    // 3. The guest PCRs: only after a launch the SL completed, in the hypervisor's order.
    if (L.failed) {
      report.fail("event_out_of_order", e, "the launch was refused (" + event_text(*L.failed) + "): the hypervisor never ran to measure guests",
                  {{"after_event", event_json(*L.failed)}});
      continue;
    }
    if (L.hv_failed) {
      report.fail("event_out_of_order", e, "logged after the hypervisor's failure cap (" + event_text(*L.hv_failed) + "): nothing is measured after it",
                  {{"after_event", event_json(*L.hv_failed)}});
      continue;
    }
    if (!L.pcr17_closed || !L.pcr18_closed) {
      report.fail("event_out_of_order", e, "logged before the SL closed PCR17 and PCR18 (EV_SEPARATOR on both): the hypervisor measures guests after the SL");
      continue;
    }
    if (const char* code = guests.accept(e, why, d); *code) {
      report.fail(code, e, why, d);
      continue;
    }
    out.expected.push_back(&e);
  }
  report.finish();
  return out;
}

}  // namespace redoubt::attest
