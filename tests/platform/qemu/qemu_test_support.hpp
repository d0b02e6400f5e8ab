// What the QEMU test programs share: whether QEMU and swtpm are installed (a Boost
// precondition that skips with a message), and reading a whole output file.
#pragma once
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "platform/qemu/host/qemu_machine.hpp"

namespace redoubt::test {

inline bool have_tool(const char* tool) {
  return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0;
}

inline boost::test_tools::assertion_result qemu_and_swtpm_present(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(qemu::qemu_installed() && have_tool("swtpm"));
  if (!r) r.message() << "qemu-system-x86_64 or swtpm is not installed: the QEMU tests are skipped";
  return r;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace redoubt::test
