/* attack_common.c: the hostile guest's output, IDT and helpers. */
#include "attack.h"

/* ---- output through the console hypercall (one exit per line, not two per byte) ---- */

static char obuf[512];
static unsigned olen;

long hc(long nr, long a, long b, long c) { return rd_hypercall(nr, a, b, c); }
void oflush(void) {
  if (olen) hc(RD_HC_CONSOLE_WRITE, (long)obuf, olen, 0);
  olen = 0;
}
void oc(char c) {
  if (olen == sizeof obuf) oflush();
  obuf[olen++] = c;
  if (c == '\n') oflush();
}
void os(const char* s) {
  while (*s) oc(*s++);
}
void ohex(uint64_t v) {
  char b[18];
  int n = 0;
  do {
    unsigned d = v & 15;
    b[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    v >>= 4;
  } while (v);
  os("0x");
  while (n) oc(b[--n]);
}
void odec(int64_t v) {
  char b[24];
  int n = 0;
  uint64_t u = v < 0 ? (uint64_t)-v : (uint64_t)v;
  if (v < 0) oc('-');
  do {
    b[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  while (n) oc(b[--n]);
}
const char* fault_name(uint64_t f) {
  switch (f) {
    case 0: return "ok";
    case 7: return "#UD";
    case 14: return "#GP";
    case 15: return "#PF";
  }
  return "fault";
}

/* ---- IDT ---- */

struct gate {
  uint16_t off0, sel;
  uint8_t ist, type;
  uint16_t off1;
  uint32_t off2, zero;
};
static struct gate idt[256] __attribute__((aligned(16)));

void set_gate(unsigned v, void (*fn)(void)) {
  uint64_t a = (uint64_t)fn;
  idt[v].off0 = (uint16_t)a;
  idt[v].sel = RD_KERNEL_CS;
  idt[v].type = 0x8E;
  idt[v].off1 = (uint16_t)(a >> 16);
  idt[v].off2 = (uint32_t)(a >> 32);
}
void load_idt(uint64_t base, uint16_t limit) {
  struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } idtr = {limit, base};
  __asm__ volatile("lidt %0" : : "m"(idtr));
}

/* ---- helpers ---- */

uint64_t xorshift(uint64_t* x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

unsigned not_stopped;

/* A number from the command line: 0x hex or decimal; *p advances. */
uint64_t num(const char** p) {
  const char* s = *p;
  uint64_t v = 0;
  if (s[0] == '0' && s[1] == 'x') {
    s += 2;
    for (;; ++s) {
      char c = *s;
      unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 99;
      if (d == 99) break;
      v = v * 16 + d;
    }
  } else {
    for (; *s >= '0' && *s <= '9'; ++s) v = v * 10 + (uint64_t)(*s - '0');
  }
  *p = s;
  return v;
}

void load_own_idt(void) { load_idt((uint64_t)idt, sizeof idt - 1); }
