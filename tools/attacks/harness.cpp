#include "tools/attacks/harness.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <cstddef>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <set>
#include <stdexcept>

#include "arch/svm/exit_codes.hpp"
#include "arch/svm/vmcb.hpp"
#include "platform/sim/machine.hpp"
#include "policy/fs/pcr_map.hpp"
#include "tools/common.hpp"
#include "tpm/tpm_device.hpp"

namespace redoubt::tools::attacks {
namespace fs = std::filesystem;
using nlohmann::json;

// ---- registry and results ------------------------------------------------------------

namespace {
std::vector<Scenario>& registry() {
  static std::vector<Scenario> r;
  return r;
}
}  // namespace

int add(Scenario s) {
  auto& r = registry();
  r.push_back(std::move(s));
  std::sort(r.begin(), r.end(), [](const Scenario& a, const Scenario& b) { return a.name < b.name; });
  return int(r.size());
}

const std::vector<Scenario>& all() { return registry(); }

const Scenario* find(const std::string& name) {
  for (const Scenario& s : registry())
    if (s.name == name) return &s;
  return nullptr;
}

json Result::to_json() const {
  json j = {{"name", name},         {"category", category},       {"blocked", blocked},
            {"leaked", leaked},     {"detail", detail},           {"protection", protection_off ? "off" : "on"},
            {"seconds", seconds},   {"evidence", evidence}};
  if (!error.empty()) j["error"] = error;
  return j;
}

void Checks::need(bool ok, const std::string& what) {
  if (!ok) failed_.push_back("NOT BLOCKED: " + what);
}
void Checks::leak(bool leaked, const std::string& what) {
  if (leaked) leaks_.push_back("LEAKED: " + what);
}
void Checks::note(const std::string& fact) { notes_.push_back(fact); }

std::string Checks::detail() const {
  std::string d;
  for (const auto* v : {&failed_, &leaks_, &notes_})
    for (const std::string& s : *v) d += (d.empty() ? "" : "; ") + s;
  return d;
}

// ---- independent values ------------------------------------------------------------

Bytes secret_bytes(uint64_t seed) {
  Bytes b(kSecretBytes);
  uint64_t x = seed;
  for (size_t i = 0; i < b.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(b.data() + i, &x, 8);
  }
  return b;
}

std::string sha256_hex(const uint8_t* p, size_t n) {
  uint8_t d[32];
  SHA256(p, n, d);
  static const char* k = "0123456789abcdef";
  std::string s;
  for (uint8_t c : d) {
    s += k[c >> 4];
    s += k[c & 15];
  }
  return s;
}

std::string hex(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

bool contains_any_chunk(const std::string& hay, const Bytes& secret, size_t chunk) {
  for (size_t at = 0; at + chunk <= secret.size(); at += chunk)
    if (hay.find(std::string(reinterpret_cast<const char*>(secret.data() + at), chunk)) != std::string::npos) return true;
  return false;
}

std::vector<std::pair<uint64_t, Bytes>> dumps(const std::string& serial) {
  std::vector<std::pair<uint64_t, Bytes>> out;
  const std::string tag = "peek: dump ";
  for (size_t at = serial.find(tag); at != std::string::npos; at = serial.find(tag, at + 1)) {
    const size_t open = serial.find(" <<", at);
    if (open == std::string::npos || open + 3 + 4096 > serial.size()) break;
    const uint64_t addr = std::stoull(serial.substr(at + tag.size(), open - at - tag.size()), nullptr, 16);
    out.push_back({addr, Bytes(serial.begin() + long(open + 3), serial.begin() + long(open + 3 + 4096))});
  }
  return out;
}

std::vector<std::string> lines(const std::string& serial, const std::string& prefix) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < serial.size()) {
    size_t nl = serial.find('\n', at);
    if (nl == std::string::npos) nl = serial.size();
    std::string l = serial.substr(at, nl - at);
    if (l.rfind(prefix, 0) == 0) out.push_back(l);
    at = nl + 1;
  }
  return out;
}

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

Replay replay_sha256(const Bytes& log) {
  Replay r;
  for (uint32_t p = 17; p <= 22; ++p) r.pcr[p] = Bytes(32, 0);
  size_t at = 0;
  auto need = [&](size_t n) {
    if (at + n > log.size()) throw std::runtime_error("event log truncated at byte " + std::to_string(at));
  };
  auto u32 = [&]() {
    need(4);
    uint32_t v;
    std::memcpy(&v, log.data() + at, 4);
    at += 4;
    return v;
  };
  auto u16 = [&]() {
    need(2);
    uint16_t v;
    std::memcpy(&v, log.data() + at, 2);
    at += 2;
    return v;
  };
  // TCG PFP §10.2.1: the first record is a SHA-1-format TCG_PCClientPCREvent (Spec ID Event03).
  u32();
  if (u32() != policy::kEvNoAction) throw std::runtime_error("event log: the first event is not EV_NO_ACTION");
  need(20);
  at += 20;
  const uint32_t hdr_size = u32();
  need(hdr_size);
  // TCG_EfiSpecIdEvent: signature[16] platformClass u32 minor major errata uintnSize(u8) numberOfAlgorithms u32, then (alg u16, size u16)...
  std::map<uint16_t, uint16_t> sizes;
  {
    size_t p = at + 16 + 4 + 1 + 1 + 1 + 1;
    uint32_t n;
    std::memcpy(&n, log.data() + p, 4);
    p += 4;
    for (uint32_t i = 0; i < n && p + 4 <= at + hdr_size; ++i, p += 4) {
      uint16_t alg, sz;
      std::memcpy(&alg, log.data() + p, 2);
      std::memcpy(&sz, log.data() + p + 2, 2);
      sizes[alg] = sz;
    }
  }
  at += hdr_size;
  // TCG_PCR_EVENT2 records.
  while (at + 8 <= log.size()) {
    const uint32_t pcr = u32(), type = u32();
    const uint32_t count = u32();
    Bytes digest;
    for (uint32_t i = 0; i < count; ++i) {
      const uint16_t alg = u16();
      auto it = sizes.find(alg);
      if (it == sizes.end()) throw std::runtime_error("event log: a digest of an algorithm the header does not list");
      need(it->second);
      if (alg == 0x000B) digest.assign(log.begin() + long(at), log.begin() + long(at + it->second));
      at += it->second;
    }
    const uint32_t n = u32();
    need(n);
    r.event_data.emplace_back(log.begin() + long(at), log.begin() + long(at + n));
    at += n;
    r.types.push_back({pcr, type});
    if (type == policy::kEvNoAction) continue;
    if (digest.size() != 32) throw std::runtime_error("event log: an event without a sha256 digest");
    Bytes& v = r.pcr[pcr];
    if (v.empty()) v = Bytes(32, 0);
    Bytes cat = v;
    cat.insert(cat.end(), digest.begin(), digest.end());
    uint8_t d[32];
    SHA256(cat.data(), cat.size(), d);
    v.assign(d, d + 32);
    ++r.events[pcr];
  }
  return r;
}

// ---- one launch ----------------------------------------------------------------------

const GuestResult& Launch::guest(size_t i) const {
  if (i >= r.guests.size())
    throw std::runtime_error("the hypervisor reported " + std::to_string(r.guests.size()) + " guests, not " +
                             std::to_string(i + 1));
  return r.guests[i];
}

std::vector<uint8_t> Launch::pcr(uint32_t index) const {
  auto b = r.launch.pcrs.find(HashAlg::sha256);
  if (b == r.launch.pcrs.end() || !b->second.count(index)) return {};
  return b->second.at(index);
}

bool Launch::console_has(const std::string& s) const {
  for (const std::string& l : console)
    if (l.find(s) != std::string::npos) return true;
  return false;
}

Ctx::Ctx(const Options& o, const Scenario& s) : o_(o), s_(s) {
  if (!o.keep.empty()) {
    dir_ = fs::absolute(o.keep) / s.name;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    remove_ = false;
  } else {
    std::string t = (fs::temp_directory_path() / "redoubt-attack-XXXXXX").string();
    if (!mkdtemp(t.data())) throw InputError("cannot create a temporary directory under " + fs::temp_directory_path().string());
    dir_ = t;
  }
}

Ctx::~Ctx() {
  tpm_.reset();  // libtpms: one TPM per process, closed before the next scenario opens its own
  std::error_code ec;
  if (remove_) fs::remove_all(dir_, ec);
}

tpm::TpmDevice& Ctx::tpm() {
  if (!tpm_) {
    tpm::TpmSpec spec;
    spec.kind = tpm::TpmSpec::Kind::inproc;
    spec.state_dir = (dir_ / "state" / "tpm-inproc").string();
    fs::create_directories(spec.state_dir);
    tpm_ = tpm::open_tpm(spec);
    tpm_->set_locality(0);
    if (!tpm_->nv_read_counter(policy::kNvHvSvnCounter)) tpm_->nv_define_counter(policy::kNvHvSvnCounter);
  }
  return *tpm_;
}

std::vector<uint64_t> Ctx::ram_of(const std::vector<GuestSpec>& guests) const {
  std::vector<uint64_t> out;
  uint64_t at = layout_.guest_ram;
  for (const GuestSpec& g : guests) {
    out.push_back(at);
    at += g.ram_mib << 20;
  }
  return out;
}

void Ctx::say(const std::string& line) {
  if (o_.verbose) std::cerr << "  [" << s_.name << "] " << line << "\n";
}

namespace {

// The pages of a 4-level nested page table (tables only), from its root.
void npt_pages(sim::Machine& m, uint64_t table, int level, std::set<uint64_t>& out) {
  if (!table || out.count(table) || level < 1) return;
  const uint8_t* t = m.mem().map(table, 4096);
  if (!t) return;
  out.insert(table);
  if (level == 1) return;
  for (int i = 0; i < 512; ++i) {
    uint64_t e;
    std::memcpy(&e, t + 8 * i, 8);
    if (!(e & 1) || (level <= 3 && (e & 0x80))) continue;  // not present, or a large page
    npt_pages(m, e & 0x000FFFFFFFFFF000ull, level - 1, out);
  }
}

struct WatchState {
  Watch* w;
  const sim::LaunchLayout* L;
  size_t nguests = 0;
  uint64_t ram_end = 0;
  std::set<uint64_t> skip;        // the attacker's own VMCB and nested tables (the CPU writes them)
  std::vector<Bytes> before;
  uint64_t exits_seen = 0;
  uint32_t victim = ~0u;
  uint64_t victim_vmcb = 0;

  bool victim_scrubbed(sim::Machine& m) const {  // the victim stopped and the hypervisor zeroed its RAM
    if (victim == ~0u) return false;
    const uint8_t* raw = m.mem().map(L->hv_memory, sizeof(hv::RunRecord));
    if (!raw) return false;
    uint32_t scrubbed;
    std::memcpy(&scrubbed, raw + offsetof(hv::RunRecord, guests) + sizeof(hv::GuestRecord) * victim +
                               offsetof(hv::GuestRecord, scrubbed), 4);
    return scrubbed != 0;
  }

  Bytes read_region(sim::Machine& m, const Watch::Region& r) {
    Bytes b = m.mem().read(r.pa, r.len);
    for (uint64_t p : skip)
      if (p >= r.pa && p < r.pa + r.len) std::fill(b.begin() + long(p - r.pa), b.begin() + long(std::min(r.len, p - r.pa + 4096)), 0);
    return b;
  }

  void scan(sim::Machine& m) {
    ++w->scans;
    // Everything the launch placed, from the SLB up to the end of the last guest's RAM, but
    // the attacker's own RAM and serial log (where its own values legitimately are).
    const uint64_t lo = L->slb_base, hi = std::min<uint64_t>(ram_end, m.mem().size());
    const uint8_t* p = m.mem().map(lo, hi - lo);
    if (!p) return;
    const auto& a = w->attacker_rec;
    for (uint64_t off = 0; off + 8 <= hi - lo; off += 8) {
      uint64_t v;
      std::memcpy(&v, p + off, 8);
      if (v != kMarker) continue;
      const uint64_t pa = lo + off;
      if (pa >= a.ram_pa && pa < a.ram_pa + a.ram_size) continue;
      if (pa >= a.serial_pa && pa < a.serial_pa + a.serial_cap) continue;
      if (std::find(w->marker_at.begin(), w->marker_at.end(), pa) == w->marker_at.end() && w->marker_at.size() < 16)
        w->marker_at.push_back(pa);
    }
  }

  void on_vmrun(sim::Machine& m, uint64_t vmcb, bool after) {
    if (!w->attacker_vmcb) {
      const uint8_t* raw = m.mem().map(L->hv_memory, sizeof(hv::RunRecord));
      if (!raw) return;
      hv::RunRecord rec;
      std::memcpy(&rec, raw, sizeof rec);
      if (std::memcmp(rec.magic, hv::kRunRecordMagic, 8) != 0 || rec.guest_count <= w->attacker) return;
      w->attacker_rec = rec.guests[w->attacker];
      w->attacker_vmcb = w->attacker_rec.vmcb_pa;
      w->attacker_npt = w->attacker_rec.npt_root;
      nguests = rec.guest_count;
      ram_end = 0;
      for (uint32_t i = 0; i < rec.guest_count && i < hv::kRecordGuests; ++i)
        ram_end = std::max(ram_end, rec.guests[i].ram_pa + rec.guests[i].ram_size);
      skip.insert(w->attacker_vmcb);
      npt_pages(m, w->attacker_npt, 4, skip);
      for (uint32_t i = 0; i < rec.guest_count && i < hv::kRecordGuests; ++i)
        if (w->secret_pa >= rec.guests[i].ram_pa && w->secret_pa < rec.guests[i].ram_pa + rec.guests[i].ram_size) {
          victim = i;
          victim_vmcb = rec.guests[i].vmcb_pa;
        }
    }
    // The victim's page as its own last #VMEXIT left it: the hypervisor scrubs a guest's RAM
    // as soon as it stops, so later snapshots would only show the scrub.
    if (w->secret_pa && after && vmcb == victim_vmcb) {
      const uint8_t* s = m.mem().map(w->secret_pa, kSecretBytes);
      if (s) w->secret_last.assign(s, s + kSecretBytes);
    }
    if (vmcb != w->attacker_vmcb || !w->attacker_vmcb) return;
    if (!after) {
      before.clear();
      for (const auto& r : w->regions) before.push_back(read_region(m, r));
      if (w->secret_pa && !w->secret_expect.empty() && !victim_scrubbed(m)) {
        const uint8_t* s = m.mem().map(w->secret_pa, kSecretBytes);
        const bool there = s && std::memcmp(s, w->secret_expect.data(), kSecretBytes) == 0;
        if (there) w->secret_seen = true;
        else if (w->secret_seen) ++w->secret_missing_after_seen;
      }
      return;
    }
    ++w->attacker_vmruns;
    for (size_t i = 0; i < w->regions.size() && i < before.size(); ++i) {
      ++w->comparisons;
      if (read_region(m, w->regions[i]) != before[i]) {
        ++w->changes;
        if (w->changed.size() < 8) w->changed.push_back(w->regions[i].what);
      }
    }
    if (!w->marker_scan) return;
    svm::Vmcb v;
    std::memcpy(&v, m.mem().map(vmcb, sizeof v), sizeof v);
    const uint64_t code = v.control.exitcode;
    const bool routine = code == svm::kExitIntr || code == svm::kExitNpf || code == svm::kExitIoio ||
                         code == svm::kExitCpuid || code == svm::kExitMsr ||
                         (code == svm::kExitVmmcall && v.save.rax != 3 /* shutdown */);
    if (!routine || (++exits_seen % 256) == 1) scan(m);
  }
};

}  // namespace

Launch Ctx::run(const std::vector<GuestSpec>& guests, Watch* watch, uint64_t hv_flags_off, uint64_t max_instructions,
                const std::function<void(RunOptions&)>& tweak) {
  RunOptions o;
  const fs::path b = build_dir();
  o.launch.out = (dir_ / ("run" + std::to_string(++runs_))).string();
  o.launch.state = (dir_ / "state").string();
  o.launch.sl = (b / "sl.bin").string();
  o.launch.sl_stage2 = (b / "sl2.bin").string();
  o.launch.hypervisor = (b / "hv.bin").string();
  o.guest_dir = (b / "guests").string();
  const bool flags = off() && hv_flags_off;
  o.launch.engine = flags ? "native-sl" : o_.engine;
  o.launch.hv_test_flags = flags ? hv_flags_off : 0;
  o.launch.max_instructions = max_instructions;
  for (size_t i = 0; i < guests.size(); ++i) {
    o.guests.push_back(guests[i].image);
    o.guest_args[i] = guests[i].args;
    o.guest_flags[i] = guests[i].flags;
    o.guest_ram_mib[i] = guests[i].ram_mib;
  }
  Launch L;
  L.engine = o.launch.engine;
  L.hv_flags = o.launch.hv_test_flags;
  WatchState ws{watch, &layout_};
  if (watch) o.on_vmrun = [&ws](sim::Machine& m, uint64_t vmcb, bool after) { ws.on_vmrun(m, vmcb, after); };
  o.after_run = [&](sim::Machine& m) {
    const uint8_t* raw = m.mem().map(layout_.hv_memory, sizeof(hv::RunRecord));
    if (raw) {
      std::memcpy(&L.record, raw, sizeof L.record);
      L.has_record = std::memcmp(L.record.magic, hv::kRunRecordMagic, 8) == 0;
    }
    if (watch && watch->marker_scan && watch->attacker_vmcb) ws.scan(m);  // what the teardown did not scrub
  };
  if (tweak) tweak(o);
  say("launch: engine " + o.launch.engine + (flags ? ", hv test flags " + hex(hv_flags_off) : ""));
  L.r = run_guests_job(o, tpm(), [&](const std::string& l) {
    L.console.push_back(l);
    say(l);
    if (on_line) on_line(l);
  });
  const auto want = ram_of(guests);
  for (size_t i = 0; i < L.r.guests.size() && i < want.size(); ++i)
    if (L.r.guests[i].ram_pa != want[i])
      throw std::runtime_error("guest " + std::to_string(i) + " RAM is at " + hex(L.r.guests[i].ram_pa) +
                               ", not at " + hex(want[i]) + " where the scenario expected it");
  return L;
}

void need_hv_ok(const Launch& L, Checks& k) {
  const auto& rep = L.r.launch.report;
  k.need(rep.hypervisor_entered, "the hypervisor was not entered: " + rep.reason);
  k.need(L.r.ran, "no run record: the hypervisor did not run the guests (" + rep.stage + ": " + rep.reason + ")");
  k.need(L.r.hv_status == "ok", "the hypervisor's status is '" + L.r.hv_status + "', not ok (" + rep.reason + ")");
  k.need(rep.launched, "the launch ended as refused at " + rep.stage + ": " + rep.reason);
}

void need_exited(const Launch& L, size_t i, int64_t code, Checks& k, const std::string& text) {
  if (i >= L.r.guests.size()) {
    k.need(false, "guest " + std::to_string(i) + " is not in the run record");
    return;
  }
  const GuestResult& g = L.r.guests[i];
  k.need(g.status == "exited" && g.exit_code == code, g.name + " is " + g.status + " (exit code " +
                                                          std::to_string(g.exit_code) + ", want " + std::to_string(code) +
                                                          "): " + g.reason);
  if (!text.empty()) k.need(has(g.serial, text), g.name + " did not print \"" + text + "\"");
}

void need_killed(const Launch& L, size_t i, const std::string& why, Checks& k) {
  if (i >= L.r.guests.size()) {
    k.need(false, "guest " + std::to_string(i) + " is not in the run record");
    return;
  }
  const GuestResult& g = L.r.guests[i];
  k.need(g.status == "killed" && has(g.reason, why), g.name + " is " + g.status + " (" + g.reason + "), not killed for \"" + why + "\"");
}

void check_victim(const Launch& L, size_t i, const Watch& w, uint64_t seed, Checks& k) {
  const Bytes want = secret_bytes(seed);
  need_exited(L, i, 0, k, "victim: secret intact");
  const std::string h_want = sha256_hex(want), h_last = w.secret_last.empty() ? "" : sha256_hex(w.secret_last);
  k.evidence()["secret_sha256"] = h_want;
  k.evidence()["secret_sha256_at_end"] = h_last;
  k.need(w.secret_seen, "the watch never saw the victim's secret in place (expected SHA-256 " + h_want + ")");
  k.leak(!w.secret_last.empty() && h_last != h_want, "the victim's secret page changed: SHA-256 " + h_last + ", set as " + h_want);
  k.leak(w.secret_missing_after_seen > 0, "the victim's secret was not in place before " +
                                              std::to_string(w.secret_missing_after_seen) + " of the attacker's VMRUNs");
}

void check_watch(const Watch& w, Checks& k) {
  k.need(w.attacker_vmruns > 0, "the attacker never ran");
  k.evidence()["attacker_vmruns_watched"] = w.attacker_vmruns;
  k.evidence()["region_comparisons"] = w.comparisons;
  k.evidence()["memory_scans"] = w.scans;
  std::string what;
  for (const auto& c : w.changed) what += (what.empty() ? "" : ", ") + c;
  k.leak(w.changes > 0, std::to_string(w.changes) + " watched region(s) changed while the attacker ran: " + what);
  std::string at;
  for (uint64_t a : w.marker_at) at += (at.empty() ? "" : ", ") + hex(a);
  k.leak(!w.marker_at.empty(), "the attacker's marker was found outside its memory at " + at);
}

void check_not_in_output(const std::string& serial, const Bytes& secret, const std::string& what, Checks& k) {
  k.leak(contains_any_chunk(serial, secret), what + " appears in the attacker's output");
  const std::string hs = sha256_hex(secret);
  json dumped = json::array();
  for (const auto& [addr, page] : dumps(serial)) {
    const std::string h = sha256_hex(page);
    dumped.push_back({{"address", hex(addr)}, {"sha256", h}});
    k.leak(h == hs, "the attacker read " + what + " at " + hex(addr) + " (SHA-256 " + h + ")");
  }
  if (!dumped.empty()) k.evidence()["attacker_read_pages"] = dumped;
}

Result run_scenario(const Scenario& s, const Options& o) {
  Result r;
  r.name = s.name;
  r.category = s.category;
  r.protection_off = o.protection_off;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    Ctx c(o, s);
    Checks k;
    s.run(c, k);
    r.blocked = k.blocked();
    r.leaked = k.leaked();
    r.detail = k.detail();
    r.evidence = k.evidence();
  } catch (const std::exception& e) {
    r.error = e.what();
    r.blocked = false;
    r.leaked = false;
    r.detail = std::string("could not run: ") + e.what();
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace redoubt::tools::attacks
