// libFuzzer: the host event-log parser, replay and formatter (policy/host).
#include <cstddef>
#include <cstdint>

#include "policy/host/eventlog_reader.hpp"

using namespace redoubt::policy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    EventLog log = parse_event_log({data, size});
    (void)replay_event_log(log);
    (void)format_event_log(log);
  } catch (const EventLogError&) {
  }
  return 0;
}
