/* A minimal C runtime for Redoubt guests: serial output through the 16550 at
 * 0x3F8 (polling LSR.THRE), a printf subset, mem* functions. */
#include <stdarg.h>

#include "redoubt.h"

#define COM1 0x3F8

void* memset(void* d, int c, size_t n) {
  unsigned char* p = d;
  while (n--) *p++ = (unsigned char)c;
  return d;
}
void* memcpy(void* d, const void* s, size_t n) {
  unsigned char* dp = d;
  const unsigned char* sp = s;
  while (n--) *dp++ = *sp++;
  return d;
}
int memcmp(const void* a, const void* b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (size_t i = 0; i < n; ++i)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}
size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}

const struct rd_boot_info* rd_boot_info(void) { return (const struct rd_boot_info*)RD_BOOT_INFO_GPA; }

void serial_putc(char c) {
  while (!(rd_inb(COM1 + 5) & 0x20)) {
  }
  rd_outb(COM1, (uint8_t)c);
}

void serial_puts(const char* s) {
  while (*s) serial_putc(*s++);
}

static void put_uint(unsigned long long v, unsigned base, int width, char pad) {
  char buf[24];
  int n = 0;
  do {
    unsigned d = (unsigned)(v % base);
    buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    v /= base;
  } while (v);
  while (n < width) buf[n++] = pad;
  while (n) serial_putc(buf[--n]);
}

void rd_printf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  for (const char* f = fmt; *f; ++f) {
    if (*f != '%') {
      serial_putc(*f);
      continue;
    }
    ++f;
    char pad = ' ';
    int width = 0, lng = 0;
    if (*f == '0') {
      pad = '0';
      ++f;
    }
    while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
    while (*f == 'l') {
      ++lng;
      ++f;
    }
    switch (*f) {
      case 's': serial_puts(va_arg(ap, const char*)); break;
      case 'c': serial_putc((char)va_arg(ap, int)); break;
      case 'd': {
        long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
        if (v < 0) {
          serial_putc('-');
          v = -v;
        }
        put_uint((unsigned long long)v, 10, width, pad);
        break;
      }
      case 'u': put_uint(lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned), 10, width, pad); break;
      case 'x': put_uint(lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned), 16, width, pad); break;
      case 'p':
        serial_puts("0x");
        put_uint((unsigned long long)(uintptr_t)va_arg(ap, void*), 16, width, pad);
        break;
      case '%': serial_putc('%'); break;
      default: serial_putc('?');
    }
  }
  va_end(ap);
}
