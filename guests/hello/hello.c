/* hello: prints to the serial port, shows what CPUID reports inside the VM
 * and what the hypervisor says about the launch. */
#include "redoubt.h"

long guest_main(void) {
  const struct rd_boot_info* bi = rd_boot_info();
  printf("Hello from guest %u (%s) of %u, %u MiB RAM\n", bi->guest_id, bi->name, bi->guest_count,
         (unsigned)(bi->ram_size >> 20));
  printf("boot: svn %u, cmdline \"%s\", initrd %lu bytes\n", bi->svn,
         bi->cmdline_gpa ? (const char*)bi->cmdline_gpa : "", (unsigned long)bi->initrd_size);
  uint32_t r[4];
  char vendor[13];
  rd_cpuid(0, 0, r);
  memcpy(vendor, &r[1], 4);
  memcpy(vendor + 4, &r[3], 4);
  memcpy(vendor + 8, &r[2], 4);
  vendor[12] = 0;
  rd_cpuid(1, 0, r);
  unsigned hv = (r[2] >> 31) & 1;
  rd_cpuid(0x80000001, 0, r);
  unsigned svm = (r[2] >> 2) & 1;
  rd_cpuid(0x40000000, 0, r);
  char hvsig[13];
  memcpy(hvsig, &r[1], 4);
  memcpy(hvsig + 4, &r[2], 4);
  memcpy(hvsig + 8, &r[3], 4);
  hvsig[12] = 0;
  for (int i = 0; i < 12; ++i)
    if (hvsig[i] < 0x20 || hvsig[i] > 0x7e) hvsig[i] = 0;
  char brand[49];
  for (unsigned i = 0; i < 3; ++i) {
    rd_cpuid(0x80000002 + i, 0, r);
    memcpy(brand + 16 * i, r, 16);
  }
  brand[48] = 0;
  for (int i = 47; i >= 0 && brand[i] == ' '; --i) brand[i] = 0;
  printf("cpuid: vendor=%s hypervisor=%u svm=%u hvleaf=\"%s\" brand=\"%s\"\n", vendor, hv, svm, hvsig, brand);
  struct rd_launch_info li;
  long rc = rd_hypercall(RD_HC_GET_LAUNCH_INFO, (long)&li, sizeof li, 0);
  if (rc == 0)
    printf("launch: hypervisor %s SVN %lu, guest id %u\n", li.hv_version, (unsigned long)li.hv_svn, li.guest_id);
  else
    printf("launch: get-launch-info failed (%d)\n", (int)rc);
  static const char msg[] = "hello: console hypercall works\n";
  rd_hypercall(RD_HC_CONSOLE_WRITE, (long)msg, sizeof msg - 1, 0);
  printf("Hello, world!\n");
  return 0;
}
