// `redoubt manifest show` and `redoubt eventlog show`: views for people and machines;
// `redoubt eventlog mark-emulated-drtm`: the QEMU harness's emulated-DRTM marker.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "policy/fs/pcr_map.hpp"
#include "policy/host/drtm_marker.hpp"
#include "policy/host/eventlog_reader.hpp"
#include "policy/host/manifest_json.hpp"
#include "tools/commands.hpp"
#include "tools/common.hpp"

namespace redoubt::tools {

void register_manifest(CLI::App& app, int& exit_code) {
  CLI::App* m = app.add_subcommand("manifest", "Inspect signed manifests");
  m->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  CLI::App* show = m->add_subcommand("show", "Decode a COSE_Sign1 manifest as JSON (does not verify the signature)");
  show->add_option("file", *file, "Manifest file")->required();
  // The output is JSON either way; --json also makes an error one JSON document (docs/running.md "Exit codes").
  auto json_out = std::make_shared<bool>(false);  // kept alive by the callback below
  show->add_flag("--json", *json_out, "The output is JSON already; with --json an error is a JSON error document on stdout too");
  show->callback([file, json_out, &exit_code] {
    std::vector<uint8_t> bytes = read_file(*file, input::kManifest);
    nlohmann::json j;
    try {
      j = policy::manifest_to_json(bytes);
    } catch (const std::exception& e) {  // input that does not parse: exit 3, as for `slb show`
      throw InputError(*file + ": " + e.what());
    }
    std::cout << j.dump(2) << "\n";
    exit_code = kExitOk;
  });
}

static nlohmann::json log_to_json(const policy::EventLog& log) {
  nlohmann::json j;
  for (const auto& [alg, size] : log.banks) j["banks"].push_back(hash_alg_name(alg));
  j["events"] = nlohmann::json::array();
  for (const auto& e : log.events) {
    nlohmann::json ev = {{"index", e.index}, {"pcr", e.pcr}, {"type", e.type},
                         {"type_name", policy::event_type_name(e.type)}, {"data", hex(e.data)}};
    for (const auto& [alg, d] : e.digests) ev["digests"][hash_alg_name(alg)] = hex(d);
    j["events"].push_back(ev);
  }
  for (const auto& [alg, pcrs] : policy::replay_event_log(log))
    for (const auto& [pcr, d] : pcrs) j["replayed"][hash_alg_name(alg)][std::to_string(pcr)] = hex(d);
  return j;
}

void register_eventlog(CLI::App& app, int& exit_code) {
  CLI::App* el = app.add_subcommand("eventlog", "Inspect DRTM event logs");
  el->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  auto json_out = std::make_shared<bool>(false);
  CLI::App* show = el->add_subcommand("show", "Print a TCG crypto-agile event log and the PCRs it replays to");
  show->add_option("file", *file, "Event log (eventlog.bin)")->required();
  show->add_flag("--json", *json_out, "JSON output");
  show->callback([=, &exit_code] {
    std::vector<uint8_t> bytes = read_file(*file, input::kEventLog);
    policy::EventLog log;
    try {
      log = policy::parse_event_log(bytes);
    } catch (const std::exception& e) {  // input that does not parse: exit 3
      throw InputError(*file + ": " + e.what());
    }
    if (*json_out)
      std::cout << log_to_json(log).dump(2) << "\n";
    else
      std::cout << policy::format_event_log(log);
    exit_code = kExitOk;
  });

  // The emulated-DRTM marker (policy/host/drtm_marker.hpp) for a harness that performed SKINIT's
  // measurement itself (docs/attestation.md "Emulated DRTM (QEMU)").
  auto mark_in = std::make_shared<std::string>(), mark_out = std::make_shared<std::string>(), mark_text = std::make_shared<std::string>();
  CLI::App* mark = el->add_subcommand("mark-emulated-drtm",
                                      "Insert the emulated-DRTM marker (PCR17 EV_NO_ACTION, \"RedoubtEmulDRTM\") after the Spec ID header");
  mark->add_option("file", *mark_in, "Event log (eventlog.bin)")->required();
  mark->add_option("--text", *mark_text, "UTF-8 text naming the platform and how, e.g. \"qemu: SKINIT emulated by the host harness\"")->required();
  mark->add_option("--out", *mark_out, "Output event log")->required();
  auto mark_json = std::make_shared<bool>(false);
  mark->add_flag("--json", *mark_json, "JSON on stdout: {wrote, text}, or a refusal's error document");
  mark->callback([=, &exit_code] {
    std::vector<uint8_t> bytes = read_file(*mark_in, input::kEventLog);
    try {
      write_file(*mark_out, policy::insert_emulated_drtm_marker(bytes, *mark_text));
      if (*mark_json)
        std::cout << nlohmann::json{{"wrote", *mark_out}, {"text", *mark_text}}.dump(2) << "\n";
      else
        std::cout << "emulated-DRTM marker inserted: " << *mark_out << "\n";
      exit_code = kExitOk;
    } catch (const policy::DrtmMarkerError& e) {  // refused (exit 1): a log that cannot carry the marker
      const std::string msg = *mark_in + ": " + e.what();
      std::cerr << "redoubt: " << msg << " (" << e.cause() << ")\n";
      if (*mark_json)
        std::cout << nlohmann::json{{"error", {{"kind", "refused"}, {"exit_code", kExitRefused}, {"code", e.cause()}, {"message", msg},
                                               {"command", "eventlog mark-emulated-drtm"}}}}
                         .dump(2)
                  << "\n";
      exit_code = kExitRefused;
    }
  });
}

}  // namespace redoubt::tools
