// Prints the virtualization-holes table of docs/virtualization-holes.md (Markdown):
// every case of holes_rig.hpp run at CPL 0, deprivileged at CPL 3, as an SVM guest with its
// intercept, and as a VMX guest with the controls of holes_vmx_rig.hpp. Regenerate: build/tests/platform/sim/cpu/cpu_holes_table
#include <cstdio>

#include "tests/platform/sim/cpu/holes_vmx_rig.hpp"

using namespace redoubt::test::holes;

int main() {
  std::printf("| instruction | %s | %s | %s | %s |\n|---|---|---|---|---|\n", where_name(Where::cpl0),
              where_name(Where::cpl3), where_name(Where::svm), vmx_where_name());
  for (const Case& k : cases()) {
    std::string cells[3];
    const Where ws[] = {Where::cpl0, Where::cpl3, Where::svm};
    for (int i = 0; i < 3; ++i) cells[i] = describe(k, run(k, ws[i]));
    if (k.misc1 == 0 && k.cr_read == 0) cells[2] = "none exists; at guest CPL 0: " + cells[2];
    const std::string vmx = describe_vmx(k, run_vmx(k));
    std::printf("| `%s` | %s | %s | %s | %s |\n", k.name, cells[0].c_str(), cells[1].c_str(), cells[2].c_str(),
                vmx.c_str());
  }
  return 0;
}
