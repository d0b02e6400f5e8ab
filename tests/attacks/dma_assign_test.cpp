// Device assignment's own checks (docs/dma.md "Device assignment"): a DeviceID assigned twice
// is refused at launch, a DeviceID that is no DMA engine fails that guest alone, and the
// --assign-device and --guest-args parsers, test images (make_hv_test_image), and the one DMA
// attack kept here: an assigned engine left unconfined by a full-system test image. The DMA *attacks* (the DEV → AMD-Vi hand-off, unassigned and assigned
// engines, a stale IOTLB) are `redoubt attack` scenarios: tools/attacks/dma.cpp, run by the
// attack_dma ctest with the protection on and off.
#define BOOST_TEST_MODULE dma_assign_attack
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <functional>
#include <map>

#include "abi/bare_hv_entry.hpp"
#include "tests/hypervisor/run_support.hpp"
#include "tools/launch_job.hpp"

using namespace redoubt;
using namespace redoubt::test;

namespace {

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

}  // namespace

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

// The same guest attack on the full-system engine with a *test image* (docs/qemu.md "Test
// images"): the measured sl.bin hands hv.bin no test flags, so --test-dma-maps-host builds
// kHvTestDmaMapsHost into a copy of hv.bin, measured as a different hypervisor. Its device is
// then not confined: the reads and FILLs outside dmacopy's RAM complete and the pages change.
// The victim is listed first (a guest loaded after the unconfined domain exists is refused).
BOOST_AUTO_TEST_CASE(dma_assigned_engine_unconfined_by_a_test_image_on_full_system) {
  const sim::LaunchLayout L;
  const uint64_t hello_page = L.guest_ram + (6u << 20);  // guest 0 (hello), 6 MiB in: unused by it
  const uint64_t hv_page = L.hv_memory + (12u << 20);    // hypervisor memory the allocator has not reached
  Bytes hello_before, hello_after;
  auto r = run("full-system", {"hello", "dmacopy"}, {"dmacopy=00:04.0"}, {{1, {1, hello_page, hv_page, 0}}},
               redoubt::abi::kBareFlagDmaMapsHost, [&](const std::string& l, sim::FullSystem& s) {
                 if (l.find("[dmacopy] dmacopy: COPY") == 0) hello_before = sha_of(s, hello_page, 4096);
                 if (l.find("[dmacopy] dmacopy: ready") == 0) hello_after = sha_of(s, hello_page, 4096);
               });
  BOOST_TEST_REQUIRE(r->result.launch.report.launched, r->result.launch.report.reason);
  BOOST_TEST(r->result.launch.launch_json["hv_test_image"].value("flags", "") == "0x2000");
  BOOST_TEST(r->result.hv_test_flags == redoubt::abi::kBareFlagDmaMapsHost);
  BOOST_TEST(r->has("[hv] TEST IMAGE: test switches 0x2000 built into this hv.bin"));
  BOOST_TEST(r->has("[hv] TEST ONLY: guest dmacopy: device 00:04.0 also maps IOVA = host-physical [0x800000, 0x10000000)"));
  const std::string serial = r->guest("dmacopy").serial;
  BOOST_TEST(serial.find("the copy matches") != std::string::npos, serial);
  BOOST_TEST(serial.find("status 0x2") == std::string::npos, serial);  // no access faulted
  char w[64];
  snprintf(w, sizeof w, "write 0x%llx: status 0x1", static_cast<unsigned long long>(hello_page));
  BOOST_TEST(serial.find(w) != std::string::npos, serial);
  snprintf(w, sizeof w, "write 0x%llx: status 0x1", static_cast<unsigned long long>(hv_page));
  BOOST_TEST(serial.find(w) != std::string::npos, serial);
  BOOST_TEST_REQUIRE(!hello_before.empty());
  BOOST_TEST_REQUIRE(!hello_after.empty());
  BOOST_TEST(hex(hello_before) != hex(hello_after));  // the other guest's page was written
  BOOST_TEST(r->guest("dmacopy").devices.size() == 1u);
}
