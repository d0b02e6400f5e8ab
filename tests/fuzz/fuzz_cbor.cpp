// libFuzzer: the freestanding CBOR reader (policy/fs/cbor): skip() over a
// sequence of items, and typed reads driven by peek_type().
#include <cstddef>
#include <cstdint>

#include "policy/fs/cbor.hpp"

using namespace redoubt;
using namespace redoubt::policy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  {
    CborReader r(in);
    while (!r.at_end()) {
      const size_t before = r.offset();
      if (!r.skip()) {
        if (r.offset() != before) __builtin_trap();  // a failed skip must not move
        break;
      }
      if (r.offset() <= before || r.offset() > size) __builtin_trap();
    }
  }
  {
    CborReader r(in);
    for (int i = 0; i < 4096 && !r.at_end(); ++i) {
      CborType t;
      if (!r.peek_type(t)) __builtin_trap();  // not at end: peek cannot fail
      Status st;
      uint64_t u;
      int64_t s;
      bool b;
      std::span<const uint8_t> sp;
      switch (t) {
        case CborType::uint: st = r.read_uint(u); break;
        case CborType::nint: st = r.read_int(s); break;
        case CborType::bytes:
          st = r.read_bytes(sp);
          if (st && (sp.data() < data || sp.data() + sp.size() > data + size)) __builtin_trap();
          break;
        case CborType::text: st = r.read_text(sp); break;
        case CborType::array: st = r.read_array(u); break;
        case CborType::map: st = r.read_map(u); break;
        case CborType::tag: st = r.read_tag(u); break;
        case CborType::simple:
          st = r.read_bool(b);
          if (!st) st = r.skip();
          break;
      }
      if (!st) break;
    }
  }
  return 0;
}
