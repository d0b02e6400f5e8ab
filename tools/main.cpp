// redoubt: the command line of the measured-launch hypervisor project.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "tpm/tpm_device.hpp"
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  } catch (const InputError& e) {
    std::cerr << "redoubt: " << e.what() << "\n";
    return kExitEnv;
  } catch (const redoubt::tpm::TpmError& e) {
    std::cerr << "redoubt: TPM: " << e.what() << "\n";
    return kExitEnv;
  } catch (const std::invalid_argument& e) {
    std::cerr << "redoubt: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "redoubt: " << e.what() << "\n";
    return kExitEnv;
  }
  return code;
}
