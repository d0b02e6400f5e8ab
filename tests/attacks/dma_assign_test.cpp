// DMA attacks on the measured images (docs/dma.md "The DEV → AMD-Vi hand-off" and "Device
// assignment"), each with SHA-256 computed here over what the attacker aimed at, and each with
// a switch that turns the protection off and shows the same attack succeed (so the check can
// fail). Attack catalogue (for `redoubt attack`, category in brackets):
//   dma_unassigned_engine_vs_launch_memory   [DMA to SLB / hypervisor / page tables / IOMMU tables / other guests]
//   dma_in_the_dev_to_iommu_window           [DMA during the SLB→IOMMU hand-off]
//   dma_assigned_engine_outside_its_guest    [DMA to other guests / hypervisor, from a guest]
//   dma_assigned_engine_reprogrammed         [a device reprogrammed after assignment]
//   dma_stale_iotlb_after_teardown           [IOTLB invalidation when a mapping changes]
// Full-system (the measured sl.bin and hv.bin) where no hypervisor test flag is needed; the
// flags reach hv.bin only through the native SL's harness (--engine native-sl).
#define BOOST_TEST_MODULE dma_assign_attack
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <functional>
#include <map>

#include "abi/bare_hv_entry.hpp"
#include "abi/dma_engine.hpp"
#include "arch/amd/iommu.hpp"
#include "tests/hypervisor/run_support.hpp"
#include "tools/launch_job.hpp"

using namespace redoubt;
using namespace redoubt::test;
namespace e = redoubt::abi::dma_engine;

namespace {

constexpr uint16_t kEngine0 = 0x0020, kEngine1 = 0x0028;  // 00:04.0, 00:05.0 (engine 2: 01:00.0)

struct DmaRun {
  TempDir dir;
  std::unique_ptr<tpm::TpmDevice> tpm;
  tools::RunResult result;
  std::vector<std::string> console;
  sim::FullSystem* sys = nullptr;
  std::function<void(const std::string&, sim::FullSystem&)> on_line;

  bool has(const std::string& s) const {
    for (const std::string& l : console)
      if (l.find(s) != std::string::npos) return true;
    return false;
  }
  const tools::GuestResult& guest(const std::string& name) const {
    for (const auto& g : result.guests)
      if (g.name == name) return g;
    throw std::runtime_error("no guest " + name);
  }
};

std::unique_ptr<DmaRun> run(const std::string& engine, std::vector<std::string> guests, std::vector<std::string> assign,
                            std::map<size_t, std::array<uint64_t, 4>> args, uint64_t flags,
                            std::function<void(const std::string&, sim::FullSystem&)> on_line,
                            std::function<void(sim::FullSystem&)> on_system = {}) {
  auto r = std::make_unique<DmaRun>();
  r->on_line = std::move(on_line);
  tools::RunOptions o = default_run_options(r->dir / "out", r->dir / "state");
  o.launch.engine = engine;
  o.launch.hv_test_flags = flags;
  o.guests = std::move(guests);
  o.assign_devices = std::move(assign);
  o.guest_args = std::move(args);
  DmaRun* self = r.get();
  o.launch.on_system = [self, on_system](sim::FullSystem& s) {
    self->sys = &s;
    if (on_system) on_system(s);
  };
  r->tpm = fresh_inproc_tpm(r->dir / "state");
  r->result = tools::run_guests_job(o, *r->tpm, [self](const std::string& l) {
    self->console.push_back(l);
    if (getenv("DMA_TEST_VERBOSE")) fprintf(stderr, "%s\n", l.c_str());
    if (self->on_line && self->sys) self->on_line(l, *self->sys);
  });
  r->tpm.reset();
  return r;
}

Bytes sha_of(sim::FullSystem& s, uint64_t pa, uint64_t n) { return sha("SHA256", s.machine().mem().read(pa, n)); }

// A simulator-side switch: the DEV's table and AMD-Vi turned off under the images' feet
// (SKINIT's own SLB protection stays: it is not the images' to turn off).
void protection_off(sim::FullSystem& s) {
  s.machine().dev().detach_table();
  s.iommu().mmio_write(arch::amd_iommu::mmio::kControl, 8, 0);
}

struct Target {
  std::string what;
  uint64_t pa, n;
  bool write = true;  // false: read only (with the protection off, a write there would crash the hypervisor)
};

// The untrusted side's engine reads each target into its buffer and fills each; returns
// "" when every access was blocked and nothing read or changed, else what happened.
std::string attack(sim::FullSystem& s, sim::DmaEngine& eng, const std::vector<Target>& targets, uint8_t expect_blocker) {
  std::string out;
  for (const Target& t : targets) {
    const uint32_t len = uint32_t(std::min<uint64_t>(t.n, e::kBufferSize));
    const Bytes before = sha_of(s, t.pa, len);
    eng.buffer().fill(0);
    const uint32_t rs = eng.run(e::kOpRead, t.pa, 0, len);
    const uint32_t rinfo = eng.fault_info();
    const Bytes got(eng.buffer().begin(), eng.buffer().begin() + len);
    const bool leaked = sha("SHA256", got) == before && before != sha("SHA256", Bytes(len, 0));
    const uint32_t ws = t.write ? eng.run(e::kOpFill, 0, t.pa, len, 0x4141414141414141ull) : uint32_t(e::kFault);
    const uint32_t winfo = t.write ? eng.fault_info() : rinfo | e::kInfoWrite;
    const bool changed = sha_of(s, t.pa, len) != before;
    const bool blocked = rs == e::kFault && ws == e::kFault && ((rinfo >> 8) & 0xFF) == expect_blocker &&
                         ((winfo >> 8) & 0xFF) == expect_blocker;
    if (!blocked || leaked || changed)
      out += t.what + ": read status " + std::to_string(rs) + " info " + std::to_string(rinfo) + ", write status " +
             std::to_string(ws) + " info " + std::to_string(winfo) + (leaked ? ", LEAKED" : "") + (changed ? ", CHANGED" : "") + "; ";
  }
  return out;
}

}  // namespace

// An unassigned engine (the untrusted harness's) during the run, after the hand-off: the SLB,
// the hypervisor image, its memory (run record, VMCBs, nested page tables), the DEV and AMD-Vi
// tables, the event log and the other guest's RAM are all out of reach, stopped by AMD-Vi (the
// first layer a request meets), with the DEV behind it. Then the protection is switched off in
// the simulator and the same attack reads and writes every one of them.
BOOST_AUTO_TEST_CASE(dma_unassigned_engine_vs_launch_memory) {
  for (const bool off : {false, true}) {
    std::string result = "not run";
    bool done = false;
    auto r = run("full-system", {"hello", "sha256"}, {}, {}, 0, [&](const std::string& l, sim::FullSystem& s) {
      if (done || l.find("[sha256]") != 0) return;  // the first line of the second guest: both are running
      done = true;
      const sim::LaunchLayout L;
      if (off) protection_off(s);
      const std::vector<Target> t = {
          {"hypervisor image", L.hv_image, 4096, !off},
          {"run record / Hypervisor object", L.hv_memory, 4096, !off},
          {"VMCBs and nested page tables (hypervisor memory +1 MiB)", L.hv_memory + (1u << 20), 4096, !off},
          {"DEV table", L.dev_table, 4096},
          {"AMD-Vi device table", L.dev_table + 0x20000, 4096},
          {"AMD-Vi command buffer", L.dev_table + 0x20000 + 0x200000, 4096},
          {"DRTM event log", L.event_log, 4096},
          {"guest hello's RAM (its image)", L.guest_ram + 0x100000, 4096},
      };
      result = attack(s, s.dma_engine(2), t, e::kBlockerIommu);
      if (!off) {
        // SKINIT's SLB protection holds as well (the IOMMU stops the request first).
        result += attack(s, s.dma_engine(0), {{"SLB", L.slb_base, 4096}}, e::kBlockerIommu);
      }
    });
    BOOST_TEST_REQUIRE(done);
    if (!off) {
      BOOST_TEST(r->result.launch.report.launched, r->result.launch.report.reason);
      BOOST_TEST(r->has("[hv] DMA protection: AMD DEV attached"));
      BOOST_TEST(r->has("[hv] AMD-Vi enabled under the DEV: all 65536 DeviceIDs blocked"));
      BOOST_TEST(result == "", result);
    } else {
      // Every target was read and written: the check above can fail.
      BOOST_TEST(result.find("hypervisor image: read status 1") != std::string::npos, result);
      BOOST_TEST(result.find("AMD-Vi device table: read status 1") != std::string::npos, result);
      BOOST_TEST(result.find("guest hello's RAM (its image): read status 1") != std::string::npos, result);
      BOOST_TEST(result.find("LEAKED") != std::string::npos);
      BOOST_TEST(result.find("CHANGED") != std::string::npos);
    }
  }
}

// A DMA fired between every two of the hypervisor's AMD-Vi register writes (the hand-off): with
// the DEV kept on until AMD-Vi blocks, nothing lands; with the test switch that turns the DEV off
// first (the window other DRTM loaders leave, kBareFlagDevOffBeforeIommu), the hypervisor image
// is read and a page of its memory written.
BOOST_AUTO_TEST_CASE(dma_in_the_dev_to_iommu_window) {
  for (const bool window : {false, true}) {
    const sim::LaunchLayout L;
    const uint64_t spare = L.hv_memory + (8u << 20);  // hypervisor memory the run does not use
    int shots = 0;
    std::string result;
    Bytes image_sha, spare_sha;
    auto on_system = [&](sim::FullSystem& s) {
      s.on_iommu_mmio_write = [&, sp = &s](uint64_t, unsigned, uint64_t) {
        sim::FullSystem& sys = *sp;
        if (shots == 0) {
          image_sha = sha_of(sys, L.hv_image, 4096);
          spare_sha = sha_of(sys, spare, 4096);
        }
        ++shots;
        sim::DmaEngine& eng = sys.dma_engine(2);
        eng.buffer().fill(0);
        if (eng.run(e::kOpRead, L.hv_image, 0, 4096) == e::kDone &&
            sha("SHA256", Bytes(eng.buffer().begin(), eng.buffer().end())) == image_sha && result.find("read") == std::string::npos)
          result += "read the hypervisor image at IOMMU write " + std::to_string(shots) + "; ";
        if (eng.run(e::kOpFill, 0, spare, 4096, 0x5A5A5A5A5A5A5A5Aull) == e::kDone && result.find("wrote") == std::string::npos)
          result += "wrote hypervisor memory at IOMMU write " + std::to_string(shots) + "; ";
      };
    };
    auto r = run(window ? "native-sl" : "full-system", {"hello"}, {}, {}, window ? redoubt::abi::kBareFlagDevOffBeforeIommu : 0,
                 {}, on_system);
    BOOST_TEST(shots > 10);  // every register write of the enable had its shot
    BOOST_TEST_MESSAGE("window=" << window << " shots " << shots << ": " << result << " / " << r->result.launch.report.reason);
    if (!window) {
      BOOST_TEST(r->result.launch.report.launched, r->result.launch.report.reason);
      BOOST_TEST(result == "", result);
      BOOST_TEST(r->has("AMD-Vi enabled under the DEV"));
    } else {
      BOOST_TEST(r->has("TEST ONLY: DEV off before AMD-Vi is enabled"));
      BOOST_TEST(result.find("read the hypervisor image at IOMMU write 1;") != std::string::npos, result);
      BOOST_TEST(result.find("wrote hypervisor memory at IOMMU write 1;") != std::string::npos, result);
    }
  }
}

// The dmacopy guest with engine 00:04.0 assigned copies within its RAM (the positive control:
// the device works for its guest, IOVA = GPA), then aims it at another guest's RAM and at the
// hypervisor's memory: IO_PAGE_FAULT, nothing read, nothing written (SHA-256 here, before and
// after). With the IOMMU and DEV switched off in the simulator the same guest reads and writes both.
BOOST_AUTO_TEST_CASE(dma_assigned_engine_outside_its_guest) {
  const sim::LaunchLayout L;
  const uint64_t hello_page = L.guest_ram + (8u << 20) + (6u << 20);  // guest 1 (hello), 6 MiB in: unused by it
  const uint64_t hv_page = L.hv_memory + (8u << 20);
  for (const bool off : {false, true}) {
    Bytes hello_before, hv_before, hello_after, hv_after;
    auto r = run("full-system", {"dmacopy", "hello"}, {"dmacopy=00:04.0"}, {{0, {1, hello_page, hv_page, 0}}}, 0,
                 [&](const std::string& l, sim::FullSystem& s) {
                   if (l.find("[dmacopy] dmacopy: COPY") == 0) {  // after its own copy, before the attack
                     hello_before = sha_of(s, hello_page, 4096);
                     hv_before = sha_of(s, hv_page, 4096);
                     if (off) protection_off(s);
                   }
                   if (l.find("[dmacopy] dmacopy: ready") == 0) {
                     hello_after = sha_of(s, hello_page, 4096);
                     hv_after = sha_of(s, hv_page, 4096);
                   }
                 });
    // With AMD-Vi switched off under it, the hypervisor cannot complete the device's release
    // (COMPLETION_WAIT never lands) and fails closed.
    if (off) BOOST_TEST(r->result.launch.report.reason.find("an assigned device could not be blocked again") != std::string::npos,
                        r->result.launch.report.reason);
    else BOOST_TEST_REQUIRE(r->result.launch.report.launched, r->result.launch.report.reason);
    const std::string serial = r->guest("dmacopy").serial;
    BOOST_TEST(serial.find("the copy matches") != std::string::npos, serial);
    if (!off)  // (switched off before the FILL: its GPA is then taken as host-physical)
      BOOST_TEST(serial.find("FILL 64 bytes at GPA 0x301000: status 0x1, first byte 0xef") != std::string::npos, serial);
    BOOST_TEST_REQUIRE(!hello_before.empty());
    BOOST_TEST_REQUIRE(!hello_after.empty());
    if (!off) {
      BOOST_TEST(r->has("[hv] guest dmacopy: device 00:04.0 assigned: I/O domain 1"));
      BOOST_TEST(r->guest("dmacopy").exit_code == 0);
      // status FAULT, blocker 3 (AMD-Vi), for reads and writes (bit 0), nothing landed.
      BOOST_TEST(serial.find("read 0x" + [&] { char b[32]; snprintf(b, sizeof b, "%llx", (unsigned long long)hello_page); return std::string(b); }() +
                             ": status 0x2 fault_info 0x300") != std::string::npos, serial);
      BOOST_TEST(serial.find("write 0x" + [&] { char b[32]; snprintf(b, sizeof b, "%llx", (unsigned long long)hv_page); return std::string(b); }() +
                             ": status 0x2 fault_info 0x301 bytes 0") != std::string::npos, serial);
      BOOST_TEST(serial.find("CHANGED") == std::string::npos, serial);
      BOOST_TEST(hex(hello_before) == hex(hello_after));
      BOOST_TEST(hex(hv_before) == hex(hv_after));
      BOOST_TEST(r->has("[hv] guest dmacopy: device 00:04.0 released: blocked, DTE and IOTLB invalidated"));
    } else {
      // Without AMD-Vi translation the guest's addresses are host-physical: it wrote both pages.
      BOOST_TEST(serial.find("status 0x2") == std::string::npos, serial);
      BOOST_TEST(hex(hello_before) != hex(hello_after));
      BOOST_TEST(hex(hv_before) != hex(hv_after));
    }
  }
}

// The untrusted harness reprograms the engine assigned to dmacopy (it owns the device's
// registers as much as the guest does) to read and write the other guest and the hypervisor:
// its I/O domain maps dmacopy's RAM only, so every IOVA outside it faults. With the protection
// switched off in the simulator the same requests land. The engine still reaches its own
// guest's RAM (IOVA = GPA), which is what assignment means.
BOOST_AUTO_TEST_CASE(dma_assigned_engine_reprogrammed) {
  for (const bool off : {false, true}) {
    std::string result = "not run";
    bool own_ok = false;
    auto r = run("full-system", {"dmacopy", "hello"}, {"dmacopy=00:04.0"}, {}, 0, [&](const std::string& l, sim::FullSystem& s) {
      if (l.find("[dmacopy] dmacopy: ready") != 0) return;
      const sim::LaunchLayout L;
      if (off) protection_off(s);
      sim::DmaEngine& eng = s.dma_engine(0);
      const std::vector<Target> t = {
          {"guest hello's RAM", L.guest_ram + (8u << 20) + 0x100000, 4096},
          {"hypervisor memory", L.hv_memory, 4096, !off},
          {"hypervisor image", L.hv_image, 4096, !off},
          {"AMD-Vi device table", L.dev_table + 0x20000, 4096},
      };
      result = attack(s, eng, t, e::kBlockerIommu);
      if (!off) own_ok = eng.run(e::kOpRead, 0x300000, 0, 64) == e::kDone && eng.buffer()[0] == 3;  // dmacopy's copy
    });
    if (off) BOOST_TEST(r->result.launch.report.reason.find("an assigned device could not be blocked again") != std::string::npos,
                        r->result.launch.report.reason);
    else BOOST_TEST_REQUIRE(r->result.launch.report.launched, r->result.launch.report.reason);
    if (!off) {
      BOOST_TEST(result == "", result);
      BOOST_TEST(own_ok);
    } else {
      BOOST_TEST(result.find("guest hello's RAM: read status 1") != std::string::npos, result);
      BOOST_TEST(result.find("hypervisor image: read status 1") != std::string::npos, result);
      BOOST_TEST(result.find("LEAKED") != std::string::npos, result);
    }
  }
}

// After dmacopy stops, its engine is blocked and the IOMMU's caches invalidated before its RAM
// is scrubbed; the harness then has the engine write a page it used (a translation the IOTLB
// held): blocked, the scrubbed page stays all zeros. With kHvTestStaleIotlb (the invalidation
// and the DEV's re-closing skipped) the stale translation lets the write into the scrubbed RAM.
BOOST_AUTO_TEST_CASE(dma_stale_iotlb_after_teardown) {
  for (const bool stale : {false, true}) {
    const sim::LaunchLayout L;
    const uint64_t page = L.guest_ram + 0x300000;  // dmacopy's GPA 0x300000: its engine's COPY target
    uint32_t st = 0;
    Bytes after;
    bool done = false;
    auto r = run("native-sl", {"dmacopy", "hello"}, {"dmacopy=00:04.0"}, {}, stale ? redoubt::abi::kBareFlagStaleIotlb : 0,
                 [&](const std::string& l, sim::FullSystem& s) {
                   if (done || l.find("[hv] guest dmacopy: RAM scrubbed after its devices were released") != 0) return;
                   done = true;
                   BOOST_TEST(hex(sha_of(s, page, 4096)) == hex(sha("SHA256", Bytes(4096, 0))));  // scrubbed
                   st = s.dma_engine(0).run(e::kOpFill, 0, 0x300000, 4096, 0x6666666666666666ull);
                   BOOST_TEST_MESSAGE("stale=" << stale << " status " << st << " info " << s.dma_engine(0).fault_info());
                   after = sha_of(s, page, 4096);
                 });
    BOOST_TEST_REQUIRE(done);
    BOOST_TEST(r->result.launch.report.launched, r->result.launch.report.reason);
    if (!stale) {
      BOOST_TEST(st == e::kFault);
      BOOST_TEST(hex(after) == hex(sha("SHA256", Bytes(4096, 0))));
    } else {
      BOOST_TEST(r->has("caches NOT invalidated"));
      BOOST_TEST(st == e::kDone);
      BOOST_TEST(hex(after) == hex(sha("SHA256", Bytes(4096, 0x66))));
    }
  }
}

// The assignment's own checks: a DeviceID the SL sees twice is refused at launch; a DeviceID
// that is no DMA engine (the IOMMU itself, 00:02.0) fails that guest alone.
BOOST_AUTO_TEST_CASE(dma_assignment_is_checked) {
  auto twice = run("full-system", {"dmacopy", "hello"}, {"dmacopy=00:04.0", "hello=00:04.0"}, {}, 0, {});
  BOOST_TEST(!twice->result.launch.report.launched);
  BOOST_TEST(twice->result.launch.report.reason.find("assigned twice") != std::string::npos, twice->result.launch.report.reason);
  auto iommu = run("full-system", {"dmacopy", "hello"}, {"dmacopy=00:02.0"}, {}, 0, {});
  BOOST_TEST_REQUIRE(iommu->result.launch.report.launched, iommu->result.launch.report.reason);
  BOOST_TEST(iommu->guest("dmacopy").status == "failed");
  BOOST_TEST(iommu->guest("dmacopy").reason.find("not an assignable DMA engine") != std::string::npos, iommu->guest("dmacopy").reason);
  BOOST_TEST(iommu->guest("hello").status == "exited");
}

BOOST_AUTO_TEST_CASE(device_assignment_flag_parser) {
  std::string g;
  uint16_t id = 0;
  tools::parse_device_assignment("dma=00:04.0", g, id);
  BOOST_TEST(g == "dma");
  BOOST_TEST(id == 0x20u);
  tools::parse_device_assignment("a=b=01:1f.7", g, id);
  BOOST_TEST(g == "a=b");
  BOOST_TEST(id == 0x1FFu);
  for (const char* bad : {"=00:04.0", "x", "x=0004.0", "x=00:04", "x=00:20.0", "x=00:04.8", "x=100:04.0", "x=00:04.00",
                          "x=0g:04.0", "x=00:04.0.1", "x=00:0:4.0", "x=:04.0"})
    BOOST_CHECK_THROW(tools::parse_device_assignment(bad, g, id), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(guest_args_flag_parser) {
  const tools::GuestArgsSpec a = tools::parse_guest_args("dmacopy=2,hv-image+0x2000,ram:attack+0x300000,slb");
  BOOST_TEST(a.guest == "dmacopy");
  BOOST_TEST_REQUIRE(a.values.size() == 4u);
  BOOST_TEST(a.values[0].symbol.empty());
  BOOST_TEST(a.values[0].offset == 2u);
  BOOST_TEST(a.values[1].symbol == "hv-image");
  BOOST_TEST(a.values[1].offset == 0x2000u);
  BOOST_TEST(a.values[2].symbol == "ram");
  BOOST_TEST(a.values[2].ram_of == "attack");
  BOOST_TEST(a.values[2].offset == 0x300000u);
  BOOST_TEST(a.values[3].symbol == "slb");
  BOOST_TEST(a.values[3].offset == 0u);
  const tools::GuestArgsSpec b = tools::parse_guest_args("1=0x10,010");
  BOOST_TEST(b.values[0].offset == 0x10u);
  BOOST_TEST(b.values[1].offset == 10u);  // decimal, not octal
  for (const char* bad : {"", "=1", "x", "x=", "x=1,", "x=,1", "x=1,2,3,4,5", "x=-1", "x=+1", "x=0x", "x=12a", "x=1+2",
                          "x=hv", "x=ram:", "x=ram:g+", "x=slb+q", "x=slb+-1", "x=99999999999999999999999"})
    BOOST_CHECK_THROW(tools::parse_guest_args(bad), std::invalid_argument);
}

// A test image (redoubt::abi::HvTestImage): the switches go into the one block hv.bin carries; anything
// else is refused by name (docs/qemu.md "Test images").
BOOST_AUTO_TEST_CASE(hv_test_image_is_made_from_the_release_block_only) {
  const Bytes hv = read_file(build_dir() / "hv.bin");
  const Bytes t = tools::make_hv_test_image(hv, redoubt::abi::kBareFlagDmaMapsHost);
  BOOST_TEST_REQUIRE(t.size() == hv.size());
  size_t differing = 0, first = 0;
  for (size_t i = 0; i < hv.size(); ++i)
    if (hv[i] != t[i]) first = differing++ ? first : i;
  BOOST_TEST(differing == 1u);  // bit 13 of the flags word, right after the 16-byte magic
  BOOST_TEST(std::memcmp(hv.data() + first - 16 - 1, redoubt::abi::kHvTestImageMagic, 16) == 0);
  BOOST_TEST(t[first] == 0x20);
  BOOST_CHECK_THROW(tools::make_hv_test_image(t, 1), std::invalid_argument);                // already a test image
  BOOST_CHECK_THROW(tools::make_hv_test_image(Bytes(4096, 0x90), 1), std::invalid_argument);  // no block
  Bytes twice = hv;
  twice.insert(twice.end(), hv.begin(), hv.end());
  BOOST_CHECK_THROW(tools::make_hv_test_image(twice, 1), std::invalid_argument);  // two blocks
}
