#include "platform/hal/format.hpp"
#include "platform/hal/hal.hpp"

namespace redoubt::hal {

void Console::print(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  size_t n = format_v(buf, sizeof buf, fmt, ap);
  va_end(ap);
  write(buf, n);
}

}  // namespace redoubt::hal
