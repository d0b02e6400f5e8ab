// TpmSpec::parse / describe and the device backend's clean failure.
#define BOOST_TEST_MODULE tpm_spec
#include <boost/test/unit_test.hpp>

#include "tpm/tpm_device.hpp"

using redoubt::tpm::TpmError;
using redoubt::tpm::TpmSpec;
using Kind = TpmSpec::Kind;

namespace {
// Asserts parse(s) throws std::invalid_argument whose message contains `part`.
void rejects(const std::string& s, const std::string& part) {
  try {
    TpmSpec::parse(s);
    BOOST_ERROR("accepted '" << s << "'");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find(part) != std::string::npos, "'" << s << "': " << e.what());
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(accepts_documented_forms) {
  TpmSpec t = TpmSpec::parse("inproc");
  BOOST_TEST((t.kind == Kind::inproc));
  BOOST_TEST(t.state_dir.empty());

  t = TpmSpec::parse("inproc:state=/var/lib/redoubt/tpm");
  BOOST_TEST((t.kind == Kind::inproc));
  BOOST_TEST(t.state_dir == "/var/lib/redoubt/tpm");

  t = TpmSpec::parse("swtpm");
  BOOST_TEST((t.kind == Kind::swtpm_spawn));

  t = TpmSpec::parse("swtpm:state=/tmp/s");
  BOOST_TEST((t.kind == Kind::swtpm_spawn));
  BOOST_TEST(t.state_dir == "/tmp/s");

  t = TpmSpec::parse("swtpm:host=10.0.0.5,port=2321");
  BOOST_TEST((t.kind == Kind::swtpm_connect));
  BOOST_TEST(t.host == "10.0.0.5");
  BOOST_TEST(t.port == 2321);
  BOOST_TEST(t.ctrl_port == 2322);

  t = TpmSpec::parse("swtpm:port=2321");
  BOOST_TEST(t.host == "127.0.0.1");

  t = TpmSpec::parse("swtpm:host=localhost,port=2321,ctrl=4000");
  BOOST_TEST(t.ctrl_port == 4000);

  t = TpmSpec::parse("device:/dev/tpmrm0");
  BOOST_TEST((t.kind == Kind::device));
  BOOST_TEST(t.device_path == "/dev/tpmrm0");
  BOOST_TEST(TpmSpec::parse("device").device_path == "/dev/tpmrm0");
}

BOOST_AUTO_TEST_CASE(describe_round_trips) {
  for (const char* s : {"inproc", "inproc:state=/x/y", "swtpm", "swtpm:state=/s",
                        "swtpm:host=127.0.0.1,port=2321,ctrl=2322", "device:/dev/tpm0"}) {
    const TpmSpec a = TpmSpec::parse(s);
    BOOST_TEST(a.describe() == s);
    const TpmSpec b = TpmSpec::parse(a.describe());
    BOOST_TEST((b.kind == a.kind));
    BOOST_TEST(b.describe() == a.describe());
  }
  BOOST_TEST(TpmSpec::parse("swtpm:port=9").describe() == "swtpm:host=127.0.0.1,port=9,ctrl=10");
}

BOOST_AUTO_TEST_CASE(rejects_garbage_naming_the_problem) {
  rejects("", "unknown TPM kind ''");
  rejects("tpm2", "unknown TPM kind 'tpm2'");
  rejects("Inproc", "'Inproc'");
  rejects("inproc:", "key=value");
  rejects("inproc:dir=/x", "'dir'");
  rejects("inproc:state=", "'state'");
  rejects("swtpm:port=0", "port=0");
  rejects("swtpm:port=65536", "port=65536");
  rejects("swtpm:port=12ab", "port=12ab");
  rejects("swtpm:port=-1", "port=-1");
  rejects("swtpm:port=", "port=");
  rejects("swtpm:port=2321,ctrl=99999", "ctrl=99999");
  rejects("swtpm:port=2321,ctrl=2321", "ctrl port equals");
  rejects("swtpm:port=65535", "65535");
  rejects("swtpm:host=h", "need port");
  rejects("swtpm:port=2321,colour=blue", "'colour'");
  rejects("swtpm:port=2321,,", "key=value");
  rejects("swtpm:port=2321,state=/x", "state=DIR");
  rejects("device:tpm0", "absolute path");
  rejects("device:", "absolute path");
}

BOOST_AUTO_TEST_CASE(device_without_tpm_fails_cleanly) {
  const std::string path = "/dev/redoubt-no-such-tpm";
  try {
    auto t = redoubt::tpm::open_tpm(TpmSpec::parse("device:" + path));
    BOOST_FAIL("opened a nonexistent device");
  } catch (const TpmError& e) {
    BOOST_TEST(std::string(e.what()).find(path) != std::string::npos, e.what());
  }
}
