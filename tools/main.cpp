// redoubt: the command line of the measured-launch hypervisor project.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tpm/tpm_device.hpp"
#include "tools/cli_contract.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"

int main(int argc, char** argv) {
  using namespace redoubt::tools;
  setenv("TSS2_LOG", "all+NONE", 0);  // expected TPM errors are reported by us, not by ESAPI
  CLI::App app{"Redoubt: measured launch (SKINIT/DRTM) of a signed hypervisor on a simulated x86 platform with a real TPM 2.0",
               "redoubt"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "redoubt 0.1.0");
  int code = kExitOk;
  register_launch(app, code);
  register_run(app, code);
  register_key(app, code);
  register_sign(app, code);
  register_manifest(app, code);
  register_eventlog(app, code);
  register_svn(app, code);
  register_slb(app, code);
  register_quote(app, code);
  register_endpoint(app, code);
  register_verifier(app, code);
  register_attest(app, code);
  register_pki(app, code);
  register_attack(app, code);
  register_doctor(app, code);
  register_report(app, code);
  if (argc == 2 && std::string(argv[1]) == "--list-commands") {  // hidden: the table the contract test walks
    print_command_table(app, std::cout);
    return kExitOk;
  }
  // Every error ends here: its exit code by kind (docs/running.md, "Exit codes"), its message on
  // stderr, and with --json also one error document on stdout (docs/schemas/error.json).
  auto fail = [&](const char* kind, int rc, const std::string& msg) {
    if (json_requested(app, argc, argv)) print_json_error(app, std::cout, kind, rc, msg);
    return rc;
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // An unknown flag is named first, even when CLI11 stopped at a missing required option.
    std::string unknown;
    for (const std::string& r : app.remaining(true))
      if (r.size() > 1 && r[0] == '-') unknown += (unknown.empty() ? "" : " ") + r;
    if (!unknown.empty() && e.get_exit_code() != 0) {
      const std::string msg = "unknown option " + unknown + " (see --help)";
      std::cerr << "redoubt: " << msg << "\n";
      return fail("usage", kExitUsage, msg);
    }
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : fail("usage", kExitUsage, e.what());
  } catch (const InputError& e) {
    std::cerr << "redoubt: " << e.what() << "\n";
    return fail("environment", kExitEnv, e.what());
  } catch (const redoubt::tpm::TpmError& e) {
    std::cerr << "redoubt: TPM: " << e.what() << "\n";
    return fail("environment", kExitEnv, std::string("TPM: ") + e.what());
  } catch (const std::invalid_argument& e) {
    std::cerr << "redoubt: " << e.what() << "\n";
    return fail("usage", kExitUsage, e.what());
  } catch (const std::exception& e) {
    std::cerr << "redoubt: " << e.what() << "\n";
    return fail("environment", kExitEnv, e.what());
  }
  return code;
}
