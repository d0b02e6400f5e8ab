// The real images the build produces: sl.bin is a valid SLB within the 64 KiB
// limit, hv.bin carries its header, and both link with no undefined symbol
// (the freestanding rule: no libc, no libstdc++ runtime).
#define BOOST_TEST_MODULE slb_image
#include <boost/test/unit_test.hpp>
#include <cstring>

#include "abi/hv_image.hpp"
#include "abi/slb_layout.hpp"
#include "tests/support/launch_fixture.hpp"
#include "tests/support/run_cli.hpp"

using namespace redoubt;
using namespace redoubt::test;

BOOST_AUTO_TEST_CASE(sl_bin_is_a_valid_unsealed_slb) {
  Bytes sl = read_file(build_dir() / "sl.bin");
  BOOST_TEST_MESSAGE("sl.bin is " << sl.size() << " bytes");
  BOOST_REQUIRE_GE(sl.size(), sizeof(sl::SlbHeader));
  BOOST_TEST(sl.size() <= 65528u);  // below the boot-params pointer, inside 64 KiB
  sl::SlbHeader h;
  std::memcpy(&h, sl.data(), sizeof h);
  BOOST_TEST(std::memcmp(h.magic, "RDBTSLB1", 8) == 0);
  BOOST_TEST(h.length == sl.size());  // the whole image is measured
  BOOST_TEST(h.entry_offset > 0u);
  BOOST_TEST(h.entry_offset < h.length);
  BOOST_TEST(h.key_slot_offset + sizeof(sl::SlbKeySlot) <= h.length);  // the key is measured
  sl::SlbKeySlot slot;
  std::memcpy(&slot, sl.data() + h.key_slot_offset, sizeof slot);
  BOOST_TEST(std::memcmp(slot.magic, "RDBTKEY1", 8) == 0);
  BOOST_TEST(slot.sec1_len == 0u);  // sealed later by the owner
  // The 32-bit entry stub is at the entry offset: its first instruction is
  // `mov %eax, %ebp` (89 c5), keeping the SLB base SKINIT left in EAX
  // (platform/x86/sl_entry.S).
  BOOST_TEST(sl[h.entry_offset] == 0x89);
  BOOST_TEST(sl[h.entry_offset + 1] == 0xC5);
}

BOOST_AUTO_TEST_CASE(hv_bin_has_its_header) {
  Bytes hv = read_file(build_dir() / "hv.bin");
  hv::HvImageHeader h;
  BOOST_REQUIRE_GE(hv.size(), sizeof h);
  std::memcpy(&h, hv.data(), sizeof h);
  BOOST_TEST(std::memcmp(h.magic, "RDBTHV01", 8) == 0);
  BOOST_TEST(h.header_size == sizeof h);
  BOOST_TEST(h.image_size == hv.size());
  BOOST_TEST(h.entry_offset < hv.size());
}

BOOST_AUTO_TEST_CASE(images_link_without_any_runtime) {
  for (const char* elf : {"images/sl.elf", "images/hv.elf"}) {
    CliResult nm = run_program({"nm", "-u", (build_dir() / elf).string()});
    BOOST_TEST(nm.exit_code == 0);
    BOOST_TEST(nm.out.empty(), elf << " has undefined symbols:\n" << nm.out);
    CliResult hdr = run_program({"readelf", "-d", (build_dir() / elf).string()});
    BOOST_TEST(hdr.out.find("NEEDED") == std::string::npos, elf << " needs a shared library");
  }
}
