// What every scenario uses: a measured launch with guests on the in-process TPM
// in the scenario's own temp state dir, a watch over the machine's memory around
// the attacker's VMRUNs, and the independent values the verdicts compare with
// (the victim's secret, SHA-256, the event-log replay).
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hypervisor/core/run_record.hpp"
#include "platform/sim/loader.hpp"
#include "tools/attacks/scenario.hpp"
#include "tools/cmd_run_job.hpp"

namespace redoubt::tools::attacks {

using Bytes = std::vector<uint8_t>;

// The attack guest (guests/attack/attack.c): where the victim keeps its secret, what the
// attacker writes, and its modes (args[0]).
inline constexpr uint64_t kSecretGpa = 0x300000;
inline constexpr uint64_t kSecretBytes = 4096;
inline constexpr uint64_t kMarker = 0xA77AC4EDA77AC4EDull;
enum Mode : uint64_t {
  kVictim = 1, kPeek = 2, kSvm = 3, kMsr = 4, kCr = 5, kIo = 6, kHcall = 7, kLoop = 8,
  kFlood = 9, kPtBomb = 10, kExc = 11, kTpm = 12, kCr3 = 13, kTimer = 14,
};
inline constexpr uint32_t kTpmTis = 0xFED40000;  // TPM TIS locality 0 (PTP §6.5.2: +0x1000 per locality)

struct Options {
  std::string engine = "full-system";  // for the protected runs; --protection-off runs native-sl
  bool protection_off = false;
  bool verbose = false;                // the launch's console on stderr
  std::string keep;                    // keep each scenario's directory under here
};

// The victim's secret for `seed`, computed here as the guest does (xorshift64), not read back.
Bytes secret_bytes(uint64_t seed);
std::string sha256_hex(const uint8_t* p, size_t n);
inline std::string sha256_hex(const Bytes& b) { return sha256_hex(b.data(), b.size()); }
std::string hex(uint64_t v);
// Whether any 32-byte run of `secret` occurs in `hay` (raw serial bytes).
bool contains_any_chunk(const std::string& hay, const Bytes& secret, size_t chunk = 32);
// The pages the peek guest dumped ("peek: dump ADDR <<4096 raw bytes>>").
std::vector<std::pair<uint64_t, Bytes>> dumps(const std::string& serial);
// Lines of `serial` that start with `prefix`.
std::vector<std::string> lines(const std::string& serial, const std::string& prefix);
bool has(const std::string& hay, const std::string& needle);

// A guest of a scenario: an image of build/guests (NAME), the loader's args[], policy flags.
struct GuestSpec {
  std::string image = "attack";
  std::array<uint64_t, 4> args{};
  uint32_t flags = 0;    // sl::kGuest*
  uint64_t ram_mib = 8;
};

// Memory watched around the attacker's VMRUNs (by its VMCB, from the run record).
struct Watch {
  size_t attacker = 1;  // guest index
  struct Region {
    std::string what;
    uint64_t pa = 0, len = 0;
  };
  std::vector<Region> regions;  // must not change while the attacker runs (compared before/after each VMRUN)
  bool marker_scan = true;      // at the attacker's VMMCALL exits: RAM outside its own RAM and log holds no kMarker
  // The victim's secret: its bytes after the last VMRUN (before the teardown scrub), and whether the
  // expected bytes were there at every attacker VMRUN once they first appeared.
  uint64_t secret_pa = 0;
  Bytes secret_expect, secret_last;
  bool secret_seen = false;
  uint64_t secret_missing_after_seen = 0;

  // Results.
  uint64_t attacker_vmruns = 0, comparisons = 0, scans = 0, changes = 0;
  std::vector<std::string> changed;
  std::vector<uint64_t> marker_at;
  uint64_t attacker_vmcb = 0, attacker_npt = 0;
  hv::GuestRecord attacker_rec{};  // as at its first VMRUN
};

// One measured launch with guests.
struct Launch {
  RunResult r;
  std::vector<std::string> console;
  bool has_record = false;
  hv::RunRecord record{};  // the hypervisor's run record as it left it
  std::string engine;
  uint64_t hv_flags = 0;
  const GuestResult& guest(size_t i) const;
  std::vector<uint8_t> pcr(uint32_t index) const;  // sha256 bank
  bool console_has(const std::string& s) const;
};

// The sha256 bank of PCR17-22 replayed from a TCG crypto-agile event log, independently of the
// project's parser: pcr -> value (PCRs without events: zeros, the DRTM reset value). Also counts
// the events per PCR. Throws std::runtime_error on a malformed log.
struct Replay {
  std::map<uint32_t, Bytes> pcr;
  std::map<uint32_t, unsigned> events;
  std::vector<std::pair<uint32_t, uint32_t>> types;  // (pcr, event type) in log order
  std::vector<Bytes> event_data;                     // the event data, in log order
};
Replay replay_sha256(const Bytes& log);

class Ctx {
 public:
  Ctx(const Options& o, const Scenario& s);
  ~Ctx();
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;

  bool off() const { return o_.protection_off; }
  const std::filesystem::path& dir() const { return dir_; }
  // This scenario's in-process TPM (state in dir()/state), opened on first use and kept until the end.
  tpm::TpmDevice& tpm();
  // Host-physical RAM of each guest, as the loader will place them (sim::LaunchLayout: packed
  // from guest_ram in the order given); run() checks the hypervisor reports the same.
  std::vector<uint64_t> ram_of(const std::vector<GuestSpec>& guests) const;
  const sim::LaunchLayout& layout() const { return layout_; }

  // The measured launch with these guests, signed on the fly by the scenario's demo PKI.
  // With --protection-off and hv_flags_off != 0: engine native-sl with those hv test flags
  // (the only way a test flag reaches hv.bin: the measured sl.bin always writes 0).
  // max_instructions bounds the simulated machine (a hang ends the run as refused).
  Launch run(const std::vector<GuestSpec>& guests, Watch* watch = nullptr, uint64_t hv_flags_off = 0,
             uint64_t max_instructions = 4'000'000'000ull, const std::function<void(RunOptions&)>& tweak = {});

  void say(const std::string& line);
  // Called with each console line of the runs that follow (as it is printed, the machine paused).
  std::function<void(const std::string&)> on_line;

 private:
  const Options& o_;
  const Scenario& s_;
  std::filesystem::path dir_;
  bool remove_ = true;
  std::unique_ptr<tpm::TpmDevice> tpm_;
  sim::LaunchLayout layout_;
  unsigned runs_ = 0;
};

// Checks most scenarios share.
// The launch was entered and the hypervisor ended normally ("ok"): no guest stopped the host.
void need_hv_ok(const Launch& L, Checks& k);
// Guest i exited through the shutdown hypercall with `code` (and its serial has `text`).
void need_exited(const Launch& L, size_t i, int64_t code, Checks& k, const std::string& text = "");
// Guest i was killed, the reason naming `why`.
void need_killed(const Launch& L, size_t i, const std::string& why, Checks& k);
// The victim (guest i, mode kVictim with `seed`) kept its secret: its own check, and the
// bytes the watch saw last (before the teardown scrub) against secret_bytes(seed), by SHA-256.
void check_victim(const Launch& L, size_t i, const Watch& w, uint64_t seed, Checks& k);
// The watch found no change while the attacker ran and no kMarker outside its own memory.
void check_watch(const Watch& w, Checks& k);
// Nothing of `secret` in what the attacker wrote (raw 32-byte chunks; SHA-256 of each dumped page).
void check_not_in_output(const std::string& serial, const Bytes& secret, const std::string& what, Checks& k);

// Runs one scenario (never throws: an exception becomes Result::error).
Result run_scenario(const Scenario& s, const Options& o);

}  // namespace redoubt::tools::attacks
