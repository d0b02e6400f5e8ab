// `redoubt quote`: a measured launch on this TPM (with the default signed guests,
// as `redoubt run`, unless --no-guests), then TPM2_Quote over the DRTM
// PCRs with the verifier's nonce, written in tpm2-tools' formats so that
// `tpm2_checkquote -u ak.pub.pem -m quote.msg -s quote.sig -f quote.pcrs -g sha256 -q NONCE` accepts it.
#include <iostream>
#include <memory>

#include "attestation/agent/endpoint_state.hpp"
#include "attestation/common/encoding.hpp"
#include "tools/cmd_run_job.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"
#include "tools/launch_job.hpp"
#include "tools/tpm_session.hpp"

namespace redoubt::tools {
namespace {

struct QuoteOptions {
  RunOptions run;
  LaunchOptions& launch = run.launch;
  std::string nonce_hex;
  bool no_guests = false;
  bool json_out = false;
};

int run_quote(QuoteOptions& o) {
  attest::Bytes nonce;
  try {
    nonce = attest::from_hex(o.nonce_hex, "--nonce");
  } catch (const std::exception& e) {  // a bad option value is a usage error (exit 2), as a wrong length is
    throw std::invalid_argument(e.what());
  }
  if (nonce.empty() || nonce.size() > 64) throw std::invalid_argument("--nonce: 1 to 64 bytes of hex");
  auto say = [](const std::string& l) { std::cerr << l << "\n"; };  // progress on stderr: stdout is the result
  TpmStateCheck tpm_state;
  auto tpm = open_tpm_session(tpm_spec_for(o.launch.platform, o.launch.tpm), state_dir(o.launch.state), o.launch.new_tpm, &tpm_state, say);
  o.launch.tpm_state = tpm_state.to_json();  // o.launch is o.run.launch
  // Guests too, so PCR19/20 in the quote are what a real endpoint reports.
  const LaunchJobResult j = o.no_guests ? run_launch_job(o.launch, *tpm, say) : run_guests_job(o.run, *tpm, say).launch;
  attest::TpmIdentity id(*tpm);
  attest::EndpointQuote q = attest::make_evidence(*tpm, id, nonce, j.report.event_log);
  attest::write_quote_files(j.out_dir, q.evidence, nonce);
  id.release();
  attest::orderly_shutdown(*tpm);  // keeps clockInfo.safe = 1 at the next power-on
  if (o.json_out) {  // docs/schemas/quote.json
    nlohmann::json files = nlohmann::json::object();
    for (const char* f : {"quote.msg", "quote.sig", "quote.pcrs", "ak.pub.pem", "ak.pub", "eventlog.bin", "nonce.hex"})
      files[f] = (j.out_dir / f).string();
    std::cout << nlohmann::json{{"status", j.report.launched ? "launched" : "refused"},
                                {"nonce", attest::to_hex(nonce)},
                                {"pcrs", attest::selection_text(q.quote.pcrs.selection)},
                                {"out", j.out_dir.string()},
                                {"files", files},
                                {"launch", j.launch_json}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << "Quoted PCR " << attest::selection_text(q.quote.pcrs.selection) << " with nonce " << o.nonce_hex << " ("
              << (j.report.launched ? "launched" : "launch REFUSED: " + j.report.reason) << ")\n"
              << "Wrote " << j.out_dir.string() << "/{quote.msg,quote.sig,quote.pcrs,ak.pub.pem,ak.pub,eventlog.bin,nonce.hex}\n";
  }
  // The quote of a refused launch is still written (it is the evidence of the refusal), but the
  // command did not get what it was asked for: exit 1, as `launch` does.
  return j.report.launched ? kExitOk : kExitRefused;
}

}  // namespace

void register_quote(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<QuoteOptions>();
  o->launch.out = "out/quote";
  CLI::App* c = app.add_subcommand("quote", "Measured launch and guests, then a TPM2_Quote over PCR 17-20 with a verifier nonce");
  c->add_option("--nonce", o->nonce_hex, "Verifier nonce (hex, 1-64 bytes)")->required();
  c->add_option("--out", o->launch.out, "Output directory")->capture_default_str();
  CLI::Option* engine_opt = c->add_option("--engine", o->launch.engine,
      "full-system: the simulated CPU executes sl.bin and hv.bin (what is measured runs); native: the same sources "
      "compiled into redoubt (refused unless the images are the ones built from them); native-sl: the native SL, then "
      "the measured hv.bin executed by the simulated CPU")->capture_default_str();
  engine_opt->check(CLI::IsMember({"full-system", "native-sl", "native"}));
  c->parse_complete_callback([o, engine_opt] { if (engine_opt->count()) o->launch.engine_checked = true; });
  c->add_option("--tpm", o->launch.tpm, "inproc | swtpm | swtpm:host=H,port=P[,ctrl=C] | device:/dev/tpmrm0")->capture_default_str();
  c->add_option("--platform", o->launch.platform,
                "amd: the simulated AMD platform; intel: GETSEC[SENTER] with a SINIT ACM on the simulator (docs/intel.md); "
                "qemu: the same images under QEMU TCG + swtpm (docs/qemu.md)")
      ->check(CLI::IsMember({"amd", "intel", "qemu"}))
      ->capture_default_str();
  c->add_option("--acm", o->launch.acm, "--platform intel: the SINIT ACM (redoubt sign acm); default: the demo ACM of --state");
  c->add_option("--chipset-key", o->launch.chipset_key, "--platform intel: the chipset key (PEM) whose hash the simulated chipset has fused");
  c->add_option("--sinit-svn-floor", o->launch.sinit_svn_floor, "--platform intel: the chipset's SINIT revocation floor")->capture_default_str();
  c->add_option("--state", o->launch.state, "State directory (TPM NV, demo keys)");
  c->add_flag("--new-tpm", o->launch.new_tpm, "The TPM's state is gone but its journal says a TPM was made here: manufacture a new TPM anyway (its anti-rollback counters start again; recorded in the journal and launch.json; docs/tpm-state.md)");
  c->add_option("--manifest", o->launch.manifest, "Signed hypervisor manifest (default: sign with the demo key)");
  c->add_option("--hypervisor", o->launch.hypervisor, "Hypervisor image (default: build/hv.bin)");
  c->add_option("--guest", o->run.guests, "Guest to boot first (as for `redoubt run`; default hello sha256 mmu probe)");
  c->add_flag("--no-guests", o->no_guests, "Quote after the launch alone (PCR19/20 stay zero)");
  c->add_flag("--json", o->json_out, "JSON on stdout: {status, nonce, pcrs, out, files, launch} (progress on stderr)");
  c->callback([o, &exit_code] { exit_code = run_quote(*o); });
}

}  // namespace redoubt::tools
