// Flag-free handler variants: most ALU results in compiled code (BearSSL's carry-free limb
// arithmetic, address and loop arithmetic) have their flags overwritten before anything reads
// them; the decoder then picks alu<..., Live = false> / unary<..., Live = false>, which do not
// write the lazy-flag state (six stores per instruction).
#include <unordered_map>

#include "platform/sim/cpu/decode.hpp"
#include "platform/sim/cpu/exec.hpp"

namespace redoubt::sim::cpu {
namespace {

using namespace exec;
using Map = std::unordered_map<Handler, Handler>;

template <Alu A, int W> void add_alu(Map& m) {
  m[&alu<A, W, R, R>] = &alu<A, W, R, R, false>;
  m[&alu<A, W, R, M>] = &alu<A, W, R, M, false>;
  m[&alu<A, W, R, I>] = &alu<A, W, R, I, false>;
  m[&alu<A, W, M, R>] = &alu<A, W, M, R, false>;
  m[&alu<A, W, M, I>] = &alu<A, W, M, I, false>;
}
template <Un A, int W> void add_un(Map& m) {
  m[&unary<A, W, R>] = &unary<A, W, R, false>;
  m[&unary<A, W, M>] = &unary<A, W, M, false>;
}
template <int W> void add_width(Map& m) {
  // CMP and TEST write nothing but flags: with the flags dead they stay as they are (a memory
  // operand's load may still fault, which keeps the flags before it live anyway).
  add_alu<ADD, W>(m), add_alu<OR, W>(m), add_alu<ADC, W>(m), add_alu<SBB, W>(m);
  add_alu<AND, W>(m), add_alu<SUB, W>(m), add_alu<XOR, W>(m);
  add_un<INC, W>(m), add_un<DEC, W>(m), add_un<NEG, W>(m);
}
const Map& table() {
  static const Map m = [] {
    Map t;
    add_width<1>(t), add_width<2>(t), add_width<4>(t), add_width<8>(t);
    return t;
  }();
  return m;
}

}  // namespace

Handler flagless_variant(Handler h) {
  const Map& m = table();
  const auto it = m.find(h);
  return it == m.end() ? h : it->second;
}

}  // namespace redoubt::sim::cpu
