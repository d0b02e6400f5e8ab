#include "platform/hal/format.hpp"

namespace redoubt {
namespace {

struct Out {
  char* p;
  size_t cap;
  size_t n = 0;
  void put(char c) {
    if (n + 1 < cap) p[n] = c;
    ++n;
  }
};

void put_uint(Out& o, unsigned long long v, unsigned base, bool upper, int width, char pad) {
  char tmp[24];
  int len = 0;
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    tmp[len++] = digits[v % base];
    v /= base;
  } while (v != 0 && len < 24);
  for (int i = len; i < width; ++i) o.put(pad);
  while (len > 0) o.put(tmp[--len]);
}

}  // namespace

size_t format_v(char* out, size_t cap, const char* fmt, va_list ap) {
  Out o{out, cap};
  for (const char* f = fmt; *f; ++f) {
    if (*f != '%') {
      o.put(*f);
      continue;
    }
    ++f;
    char pad = ' ';
    int width = 0;
    if (*f == '0') {
      pad = '0';
      ++f;
    }
    while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
    int lng = 0;
    bool size_t_mod = false;
    while (*f == 'l') {
      ++lng;
      ++f;
    }
    if (*f == 'z') {
      size_t_mod = true;
      ++f;
    }
    switch (*f) {
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (!s) s = "(null)";
        size_t len = 0;
        while (s[len]) ++len;
        for (size_t i = len; i < static_cast<size_t>(width); ++i) o.put(' ');
        for (size_t i = 0; i < len; ++i) o.put(s[i]);
        break;
      }
      case 'c': o.put(static_cast<char>(va_arg(ap, int))); break;
      case 'd':
      case 'i': {
        long long v = lng >= 2 ? va_arg(ap, long long) : lng == 1 ? va_arg(ap, long) : size_t_mod ? static_cast<long long>(va_arg(ap, size_t)) : va_arg(ap, int);
        unsigned long long mag = v < 0 ? 0ULL - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
        if (v < 0) o.put('-');
        put_uint(o, mag, 10, false, width, pad);
        break;
      }
      case 'u':
      case 'x':
      case 'X': {
        unsigned long long v = lng >= 2 ? va_arg(ap, unsigned long long) : lng == 1 ? va_arg(ap, unsigned long) : size_t_mod ? va_arg(ap, size_t) : va_arg(ap, unsigned);
        put_uint(o, v, *f == 'u' ? 10 : 16, *f == 'X', width, pad);
        break;
      }
      case 'p': {
        o.put('0');
        o.put('x');
        put_uint(o, reinterpret_cast<unsigned long long>(va_arg(ap, void*)), 16, false, 0, '0');
        break;
      }
      case '%': o.put('%'); break;
      case '\0': --f; break;
      default:
        o.put('%');
        o.put(*f);
        break;
    }
  }
  if (cap > 0) out[o.n < cap ? o.n : cap - 1] = '\0';
  return o.n < cap ? o.n : (cap ? cap - 1 : 0);
}

size_t format(char* out, size_t cap, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t n = format_v(out, cap, fmt, ap);
  va_end(ap);
  return n;
}

char* to_hex(const uint8_t* bytes, size_t n, char* out) {
  static const char* d = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = d[bytes[i] >> 4];
    out[2 * i + 1] = d[bytes[i] & 15];
  }
  out[2 * n] = '\0';
  return out;
}

}  // namespace redoubt
