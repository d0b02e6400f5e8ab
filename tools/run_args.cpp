// The `redoubt run` flags that name guests: --assign-device GUEST=BB:DD.F and
// --guest-args GUEST=V0,V1,... (parsed before anything runs; a bad one is a usage error).
#include <cctype>
#include <stdexcept>
#include <string>

#include "tools/cmd_run_job.hpp"

namespace redoubt::tools {

void parse_device_assignment(const std::string& spec, std::string& guest, uint16_t& device_id) {
  const size_t eq = spec.rfind('=');
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("--assign-device " + spec + ": " + why + " (expected GUEST=BB:DD.F, e.g. dma=00:04.0)");
  };
  if (eq == std::string::npos || eq == 0) throw bad("no guest");
  guest = spec.substr(0, eq);
  const std::string b = spec.substr(eq + 1);
  auto hex = [&](const std::string& t, unsigned max) {
    if (t.empty() || t.size() > 2) throw bad("'" + t + "' is not one or two hex digits");
    unsigned v = 0;
    for (char c : t) {
      const int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                    : (c >= 'a' && c <= 'f')                   ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F')                   ? c - 'A' + 10
                                                               : -1;
      if (d < 0) throw bad("'" + t + "' is not hex");
      v = v * 16 + unsigned(d);
    }
    if (v > max) throw bad("'" + t + "' is above " + std::to_string(max));
    return v;
  };
  const size_t c = b.find(':'), d = b.find('.');
  if (c == std::string::npos || d == std::string::npos || d < c || b.find(':', c + 1) != std::string::npos ||
      b.find('.', d + 1) != std::string::npos)
    throw bad("not BB:DD.F");
  const unsigned bus = hex(b.substr(0, c), 0xFF), dev = hex(b.substr(c + 1, d - c - 1), 0x1F);
  const std::string f = b.substr(d + 1);
  if (f.size() != 1) throw bad("the function is one digit 0-7");
  const unsigned fn = hex(f, 7);
  device_id = uint16_t(bus << 8 | dev << 3 | fn);
}

GuestArgsSpec parse_guest_args(const std::string& spec) {
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("--guest-args " + spec + ": " + why +
                                 " (expected GUEST=V0[,V1[,V2[,V3]]], V a number or hv-image|hv-memory|slb|ram:GUEST, "
                                 "optionally +OFFSET, e.g. dmacopy=2,hv-image+0x2000,ram:attack+0x300000,slb)");
  };
  GuestArgsSpec r;
  const size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0) throw bad("no guest");
  r.guest = spec.substr(0, eq);
  const std::string rest = spec.substr(eq + 1);
  if (rest.empty()) throw bad("no values");
  auto number = [&](const std::string& t) {
    if (t.empty()) throw bad("an empty number");
    size_t used = 0;
    uint64_t v = 0;
    try {
      const bool hex = t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
      v = std::stoull(hex ? t.substr(2) : t, &used, hex ? 16 : 10);
      if (hex) used += 2;
    } catch (const std::exception&) {
      throw bad("'" + t + "' is not a number");
    }
    if (used != t.size() || t[0] == '-' || t[0] == '+') throw bad("'" + t + "' is not a number");
    return v;
  };
  size_t at = 0;
  while (true) {
    const size_t comma = rest.find(',', at);
    const std::string v = rest.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (r.values.size() == 4) throw bad("more than 4 values");
    GuestArgsSpec::Value x;
    const size_t plus = v.find('+');
    const std::string head = v.substr(0, plus);
    if (head.empty()) throw bad("an empty value");
    if (std::isdigit(static_cast<unsigned char>(head[0]))) {
      if (plus != std::string::npos) throw bad("'" + v + "': +OFFSET only after a name");
      x.offset = number(head);
    } else {
      if (head == "hv-image" || head == "hv-memory" || head == "slb") {
        x.symbol = head;
      } else if (head.rfind("ram:", 0) == 0 && head.size() > 4) {
        x.symbol = "ram";
        x.ram_of = head.substr(4);
      } else {
        throw bad("'" + head + "' is neither a number nor hv-image, hv-memory, slb or ram:GUEST");
      }
      if (plus != std::string::npos) x.offset = number(v.substr(plus + 1));
    }
    r.values.push_back(x);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return r;
}

}  // namespace redoubt::tools
