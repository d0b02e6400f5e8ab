// libFuzzer: the host's parser of the harness channel's evidence dump (platform/qemu/host/
// evidence_dump.hpp). The bytes come from whatever ran in the simulated or QEMU machine (a
// failed or hostile image can send anything on COM2): every input is rejected with a reason
// or parsed into regions within the declared bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "abi/harness_channel.hpp"
#include "platform/qemu/host/evidence_dump.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string why;
  auto d = redoubt::qemu::parse_evidence_dump({data, size}, &why);
  if (!d) {
    if (why.empty()) abort();  // a rejection always names its cause
    return 0;
  }
  size_t total = 0;
  if (d->regions.size() > redoubt::abi::kDumpMaxRegions) abort();
  for (const auto& r : d->regions) {
    if (r.bytes.size() > redoubt::abi::kDumpMaxRegionBytes) abort();
    total += r.bytes.size();
  }
  if (total > size) abort();  // every byte of a region came from the channel
  return 0;
}
