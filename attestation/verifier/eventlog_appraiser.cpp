#include "attestation/verifier/eventlog_appraiser.hpp"

#include <cstring>
#include <map>
#include <set>

#include "attestation/tpm/tpm_public.hpp"
#include "attestation/verifier/drtm_origin.hpp"
#include "attestation/verifier/event_order.hpp"
#include "attestation/verifier/guest_appraiser.hpp"
#include "attestation/verifier/log_event_text.hpp"
#include "attestation/verifier/replay_diagnosis.hpp"
#include "attestation/verifier/txt_appraiser.hpp"
#include "arch/intel/txt_evtypes.hpp"
#include "policy/fs/hv_manifest.hpp"
#include "policy/fs/pcr_map.hpp"
#include "policy/host/eventlog_reader.hpp"

namespace redoubt::attest {
namespace {

using policy::LogEvent;

// Every Redoubt event's digest is the hash of its data, except the SLB and the
// hypervisor image: their digests are over bytes that are not in the log (the
// event data is a description), sl/secure_loader.cpp start_log / verify_and_measure;
// likewise an unsigned guest's kernel (EV_REDOUBT_GUEST_IMAGE, docs/pcr-map.md).
// Intel TXT: HASH_START (the ACM) and MLE_HASH (the MLE) likewise (platform/sim/txt/sinit_measure.cpp).
bool digest_is_over_data(uint32_t type) {
  return type != policy::kEvHvImage && type != policy::kEvSkinitSlb && type != policy::kEvGuestImage && type != policy::kEvNoAction &&
         type != arch::txt::evtype::kHashStart && type != arch::txt::evtype::kMleHash && type != arch::txt::evtype::kCombinedHash;
}


const LogEvent* by_index(const policy::EventLog& log, size_t index) {
  for (const LogEvent& e : log.events)
    if (e.index == index) return &e;
  return nullptr;
}

// One finding for a PCR that does not replay: event_extra / events_swapped / event_missing when
// the same diagnosis explains every diverging bank, else pcr_replay_mismatch with the PCR's last event.
void report_divergence(const policy::EventLog& log, uint32_t pcr,
                       const std::vector<std::pair<TPMI_ALG_HASH, std::pair<Bytes, Bytes>>>& banks, Findings& f) {
  const auto& [bank0, values0] = banks.front();
  nlohmann::json d = {{"pcr", pcr}, {"bank", tpm_hash_text(bank0)}, {"quoted", to_hex(values0.first)}, {"replayed", to_hex(values0.second)}};
  nlohmann::json bank_names = nlohmann::json::array();
  for (const auto& [bank, v] : banks) bank_names.push_back(tpm_hash_text(bank));
  d["banks"] = bank_names;
  const std::string where = "PCR" + std::to_string(pcr) + " (" + [&] {
    std::string s;
    for (const auto& b : bank_names) s += (s.empty() ? "" : ", ") + b.get<std::string>();
    return s;
  }() + ")";

  std::optional<ReplayDiagnosis> dx = diagnose_replay(log, pcr, static_cast<HashAlg>(bank0), values0.first);
  for (size_t i = 1; dx && i < banks.size(); ++i) {  // the same explanation must hold in every bank
    auto other = diagnose_replay(log, pcr, static_cast<HashAlg>(banks[i].first), banks[i].second.first);
    if (!other || other->kind != dx->kind || other->events != dx->events || other->expected_type != dx->expected_type) dx.reset();
  }
  if (dx && dx->kind == ReplayDiagnosis::Kind::extra) {
    const LogEvent* e = by_index(log, dx->events[0]);
    d["event"] = event_json(*e);
    f.fail("event_extra", where + ": the log has " + event_text(*e) + " that the TPM never extended: without it the log replays to the quoted value", d);
    return;
  }
  if (dx && dx->kind == ReplayDiagnosis::Kind::swapped) {
    const LogEvent* a = by_index(log, dx->events[0]);
    const LogEvent* b = by_index(log, dx->events[1]);
    d["events"] = {event_json(*a), event_json(*b)};
    f.fail("events_swapped", where + ": " + event_text(*a) + " and " + event_text(*b) +
                                 " are in the wrong order: the TPM extended them the other way round", d);
    return;
  }
  if (dx && dx->kind == ReplayDiagnosis::Kind::missing) {
    const std::string type = policy::event_type_name(dx->expected_type);
    d["expected"] = {{"pcr", pcr}, {"type", type}, {"type_id", dx->expected_type}, {"position", dx->position}};
    std::string after = "at the start of the PCR's events";
    if (!dx->events.empty()) {
      const LogEvent* prev = by_index(log, dx->events[0]);
      d["after_event"] = event_json(*prev);
      after = "after " + event_text(*prev);
    }
    f.fail("event_missing", where + ": the log lacks the " + type + " event a launch records " + after + " (log position " +
                                std::to_string(dx->position) + "); the quoted value includes an extend the log does not show",
           d);
    return;
  }
  const LogEvent* last = nullptr;
  for (const LogEvent& e : log.events)
    if (e.pcr == pcr && e.type != policy::kEvNoAction) last = &e;
  if (last) d["last_event"] = event_json(*last);
  f.fail("pcr_replay_mismatch",
         where + " quoted " + to_hex(values0.first).substr(0, 16) + "… but the log replays to " + to_hex(values0.second).substr(0, 16) + "…" +
             (last ? "; no single extra, missing or swapped event explains it (a digest was altered, or several events differ); the log's last PCR" + std::to_string(pcr) +
                         " event is " + event_text(*last)
                   : "; the log has no event for it"),
         d);
}
}  // namespace

LogAppraisal appraise_event_log(std::span<const uint8_t> log_bytes, const QuotedPcrs& quoted, const ReferenceValues* ref, Findings& f) {
  LogAppraisal out;
  policy::EventLog log;
  try {
    log = policy::parse_event_log(log_bytes);
  } catch (const policy::EventLogError& e) {
    f.fail("eventlog_malformed", e.what());
    return out;
  }
  // (0) how the DRTM was made: the emulated-DRTM marker, if the log carries one. It is not extended
  // (EV_NO_ACTION, PFP §10.4.5), so it neither helps nor hinders the replay; its findings follow it.
  Findings origin_findings;
  const DrtmOrigin origin = check_drtm_origin(log, origin_findings);
  out.drtm = drtm_claim(origin, appraise_drtm_origin(origin, ref, origin_findings));

  // (1a) each event's digests against its own data, in log order: the first liar is named.
  bool events_ok = true;
  for (const LogEvent& e : log.events) {
    if (!digest_is_over_data(e.type)) continue;
    for (const auto& [alg, d] : e.digests) {
      uint8_t want[EVP_MAX_MD_SIZE];  // hashed into a buffer and compared: no Bytes per event and bank
      const size_t n = tpm_hash_into(static_cast<TPMI_ALG_HASH>(alg), e.data, want);
      if (n != d.size() || std::memcmp(want, d.data(), n) != 0) {
        f.fail("event_digest_mismatch",
               event_text(e) + ": the " + hash_alg_name(alg) + " digest is not the hash of the event data (log edited after measurement)",
               {{"event", event_json(e)}, {"bank", hash_alg_name(alg)}});
        events_ok = false;
        break;
      }
    }
    if (!events_ok) break;
  }

  // (1b) replay per quoted bank. A PCR that differs is reported once, with the banks it differs in;
  // an extra, missing or swapped event is named exactly (replay_diagnosis), else the last event of that PCR.
  // Only what the quote selects is replayed: no other bank's or PCR's value is compared.
  const auto quoted_banks = quoted.by_bank();
  std::map<HashAlg, std::set<uint32_t>> wanted;
  for (const auto& [bank, pcrs] : quoted_banks)
    for (const auto& [pcr, value] : pcrs) wanted[static_cast<HashAlg>(bank)].insert(pcr);
  const auto replayed = policy::replay_event_log(log, wanted);
  bool replay_ok = true;
  std::map<uint32_t, std::vector<std::pair<TPMI_ALG_HASH, std::pair<Bytes, Bytes>>>> diverging;  // pcr -> (bank, (quoted, replayed))
  for (const auto& [bank, pcrs] : quoted_banks) {
    for (const auto& [pcr, value] : pcrs) {
      Bytes mine(tpm_hash_size(bank), 0);
      auto b = replayed.find(static_cast<HashAlg>(bank));
      if (b != replayed.end()) {
        auto p = b->second.find(pcr);
        if (p != b->second.end()) mine = p->second;
      }
      if (mine == value) continue;
      replay_ok = false;
      diverging[pcr].push_back({bank, {value, mine}});
    }
  }
  for (const auto& [pcr, banks] : diverging) report_divergence(log, pcr, banks, f);
  for (auto v : {&Findings::failures, &Findings::warnings, &Findings::notes})
    (f.*v).insert((f.*v).end(), (origin_findings.*v).begin(), (origin_findings.*v).end());
  out.log_matches_pcrs = events_ok && replay_ok;
  if (!out.log_matches_pcrs) return out;  // claims from an unverified log are worthless

  // (2) which events count: those on quoted PCRs, where the PCR map puts them (event_order.hpp).
  std::set<uint32_t> quoted_pcrs;
  for (const auto& [bank, pcrs] : wanted) quoted_pcrs.insert(pcrs.begin(), pcrs.end());
  const OrderedLog ordered = check_event_order(log, quoted_pcrs, selection_text(quoted.selection), f);
  const LaunchEvents& L = ordered.launch;

  // (3) what was launched: the SL's events on PCR17/18 only.
  if (L.failed) {
    const LogEvent& e = *L.failed;
    f.fail("launch_failed", event_text(e) + (e.type == arch::txt::evtype::kCapValue ? ": SINIT refused the launch: " : ": the secure loader refused the launch: ") +
                                std::string(e.data.begin(), e.data.end()),
           {{"event", event_json(e)}, {"reason", std::string(e.data.begin(), e.data.end())}});
    return out;
  }
  if (L.intel && (!L.acm || !L.mle || !L.sinit_signer)) {
    const char* what = !L.acm ? "EV_TXT_HASH_START (PCR17)" : !L.mle ? "EV_TXT_MLE_HASH (PCR17)" : "EV_TXT_SINIT_PUBKEY_HASH (PCR18)";
    f.fail("launch_incomplete", std::string("the log lacks the ") + what + " of a complete Intel TXT launch (docs/pcr-map.md)");
    return out;
  }
  if ((!L.intel && !L.slb) || !L.manifest || !L.image || !L.signer || !L.pcr17_closed || !L.pcr18_closed) {
    const char* what = (!L.intel && !L.slb) ? "SLB event (PCR17)" : !L.manifest ? "hypervisor manifest event (PCR17)" : !L.image ? "hypervisor image event (PCR17)"
                       : !L.signer ? "signer event (PCR18)" : !L.pcr17_closed ? "EV_SEPARATOR on PCR17" : "EV_SEPARATOR on PCR18";
    f.fail("launch_incomplete", std::string("the log lacks the ") + what + " of a complete launch (docs/pcr-map.md)");
    return out;
  }
  // The measured loader: the SLB SKINIT measured, or under TXT the MLE SINIT measured (the same bytes of sl.bin).
  const LogEvent *slb = L.intel ? L.mle : L.slb, *manifest_ev = L.manifest, *image = L.image, *signer = L.signer;
  policy::HvManifest m;
  Status st = policy::hv_manifest_decode(manifest_ev->data, m);
  if (!st) {
    f.fail("hv_manifest_malformed", event_text(*manifest_ev) + ": " + st.message(), {{"event", event_json(*manifest_ev)}});
    return out;
  }
  const Bytes signer_kid = tpm_hash(TPM2_ALG_SHA256, signer->data);
  const Bytes image_sha256 = digest_of(*image, HashAlg::sha256);
  const Bytes slb_sha256 = digest_of(*slb, HashAlg::sha256);
  out.launched = true;
  out.launch = {{"hypervisor", {{"name", log_string(m.name)}, {"version", log_string(m.version)}, {"svn", m.svn}, {"sha256", to_hex(image_sha256)}, {"signer", to_hex(signer_kid)}}},
                {"slb", {{"sha256", to_hex(slb_sha256)}}}};
  // The hypervisor that launched failed later and capped PCR17-20 (hypervisor/core/fail_closed.cpp):
  // what launched is still named, but nothing about the endpoint's present state is trustworthy.
  if (L.hv_failed) {
    const LogEvent& e = *L.hv_failed;
    const std::string why(e.data.begin(), e.data.end());
    f.fail("hypervisor_failed", event_text(e) + ": the hypervisor failed after the launch and capped PCR17-20: " + why,
           {{"event", event_json(e)}, {"reason", why}});
    out.launch["hypervisor_failed"] = why;
  }

  // Internal consistency: the measured image is the one the manifest names, signed by the measured signer.
  if (m.digest_alg == HashAlg::sha256 && Bytes(m.digest, m.digest + 32) != image_sha256)
    f.fail("hv_image_not_manifest_digest", event_text(*image) + ": the measured image is not the digest the manifest signs", {{"event", event_json(*image)}});
  if (Bytes(m.signer_kid, m.signer_kid + 32) != signer_kid)
    f.fail("hv_signer_not_manifest_signer", event_text(*signer) + ": the measured signer key is not the manifest's signer", {{"event", event_json(*signer)}});

  if (ref) {  // the hypervisor and the SLB against reference values
    if (!ref->hv_signers.count(to_hex(signer_kid)))
      f.fail("hv_signer_not_allowed", event_text(*signer) + ": hypervisor signer " + to_hex(signer_kid) + " is not in reference values " + ref->id,
             {{"event", event_json(*signer)}, {"signer", to_hex(signer_kid)}});
    if (m.svn < ref->min_svn)
      f.fail("hv_svn_below_minimum", event_text(*manifest_ev) + ": hypervisor " + log_string(m.version) + " has SVN " + std::to_string(m.svn) + " < minimum " + std::to_string(ref->min_svn),
             {{"event", event_json(*manifest_ev)}, {"svn", m.svn}, {"min_svn", ref->min_svn}});
    if (!ref->hv_sha256.empty() && !ref->hv_sha256.count(to_hex(image_sha256)))
      f.fail("hv_digest_not_allowed", event_text(*image) + ": hypervisor image digest is not in reference values " + ref->id, {{"event", event_json(*image)}});
    if (!L.intel && !ref->slb_sha256.empty() && !ref->slb_sha256.count(to_hex(slb_sha256)))
      f.fail("slb_not_allowed", event_text(*slb) + ": the SLB measurement is not in reference values " + ref->id, {{"event", event_json(*slb)}});
  }

  // (3b) Intel TXT: the SINIT ACM, its signer, the MLE and the policy control (txt_appraiser.hpp).
  if (L.intel) {
    out.launch["txt"] = appraise_txt_launch(L, ref, f);
    if (out.drtm.value("method", "") == "skinit") out.drtm = {{"method", "senter"}};
  }

  // (4) the launch policy and the guests (PCR17 0x605, PCR18 0x606, PCR19/20), from the events at their place.
  GuestClaims gc = appraise_guest_events(ordered.expected, ref, f);
  out.launch["launch_policy"] = std::move(gc.launch_policy);
  out.guests = std::move(gc.guests);

  return out;
}

}  // namespace redoubt::attest
