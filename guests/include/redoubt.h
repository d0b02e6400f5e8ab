/* The Redoubt guest interface, in C (docs/guests.md, docs/hypercalls.md).
 * The C twin of hypervisor/core/hypercall_abi.hpp and guest_abi.hpp; a test
 * (tests/hypervisor/guest_abi_test.cpp) keeps the two equal. */
#ifndef REDOUBT_GUEST_H
#define REDOUBT_GUEST_H
#include <stddef.h>
#include <stdint.h>

/* Hypercalls: VMMCALL, number in RAX, arguments in RDI, RSI, RDX, result in RAX. */
#define RD_HC_CONSOLE_WRITE 1   /* RDI = buffer (guest-virtual), RSI = length <= 4096; returns length */
#define RD_HC_YIELD 2
#define RD_HC_SHUTDOWN 3        /* RDI = exit code; does not return */
#define RD_HC_GET_LAUNCH_INFO 4 /* RDI = buffer, RSI = size >= sizeof(struct rd_launch_info) */
#define RD_HC_SET_TIMER 5       /* RDI = vector 32-255, RSI = ticks from now (0 = cancel), RDX = period (0 = one-shot) */
#define RD_MAX_TIMER_TICKS (1ull << 48) /* set_timer: a larger delay or period is -EINVAL */

#define RD_HC_OK 0
#define RD_HC_EFAULT (-14)
#define RD_HC_EINVAL (-22)
#define RD_HC_ENOSYS (-38)

/* Guest-physical layout at entry. */
#define RD_BOOT_INFO_GPA 0x1000ull
#define RD_GDT_GPA 0x2000ull
#define RD_PML4_GPA 0x3000ull
#define RD_IMAGE_GPA 0x100000ull
#define RD_KERNEL_CS 0x08
#define RD_KERNEL_DS 0x10

struct rd_boot_info {
  char magic[8]; /* "RDBTGBI1" */
  uint32_t guest_id;
  uint32_t guest_count;
  uint64_t ram_size;
  uint64_t image_gpa;
  uint64_t image_size;
  uint64_t args[4];
  char name[16];
  uint64_t tsc_per_us;
  uint64_t initrd_gpa;  /* 0 = no initrd */
  uint64_t initrd_size;
  uint64_t cmdline_gpa; /* NUL-terminated signed command line */
  uint32_t cmdline_len;
  uint32_t svn;         /* the signed manifest's SVN, 0 if unsigned */
  uint32_t device_count;        /* assigned DMA engines */
  uint32_t reserved0;
  uint64_t device_bar_gpa[3];   /* each one's BAR0 (registers, then its 4 KiB buffer) */
  uint16_t device_id[4];        /* bus[15:8] device[7:3] function[2:0] */
};

struct rd_launch_info {
  uint64_t hv_svn;
  char hv_version[32];
  uint8_t pcr17_sha256[32];
  uint32_t guest_id;
  uint32_t reserved;
};

static inline long rd_hypercall(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("vmmcall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "memory");
  return ret;
}

static inline __attribute__((noreturn)) void rd_shutdown(long code) {
  rd_hypercall(RD_HC_SHUTDOWN, code, 0, 0);
  for (;;) __asm__ volatile("cli; hlt");
}

static inline uint8_t rd_inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline void rd_outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }

static inline void rd_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
static inline uint64_t rd_rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

/* guests/lib/rt.c */
void serial_putc(char c);
void serial_puts(const char* s);
void rd_printf(const char* fmt, ...); /* %s %c %d %u %x %p with l/ll, zero-pad width */
#ifndef __cplusplus
#define printf rd_printf
#endif
void* memset(void* d, int c, size_t n);
void* memcpy(void* d, const void* s, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
const struct rd_boot_info* rd_boot_info(void);

#endif
