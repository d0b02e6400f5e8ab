// A tiny freestanding formatter (vsnprintf subset) used by Status and consoles.
#pragma once
#include <cstdarg>
#include <cstddef>
#include <cstdint>

namespace redoubt {

// Supports %s %c %d %i %u %x %X %p with l/ll/z length modifiers and a
// zero-pad width (e.g. %08x). Always NUL-terminates; returns bytes written.
size_t format_v(char* out, size_t cap, const char* fmt, va_list ap);
size_t format(char* out, size_t cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

// Lower-case hex of n bytes into out (needs 2n+1); returns out.
char* to_hex(const uint8_t* bytes, size_t n, char* out);

}  // namespace redoubt
