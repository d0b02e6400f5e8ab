#include "sl/secure_loader.hpp"

#include <cstring>

#include "abi/hv_image.hpp"
#include "platform/hal/format.hpp"
#include "policy/fs/cose.hpp"
#include "policy/fs/eventlog.hpp"
#include "policy/fs/hash.hpp"
#include "policy/fs/hv_manifest.hpp"
#include "policy/fs/launch_policy_envelope.hpp"
#include "policy/fs/measure.hpp"
#include "policy/fs/pcr_map.hpp"
#include "abi/boot_params.hpp"
#include "abi/handoff.hpp"
#include "abi/slb_layout.hpp"

namespace redoubt::sl {
namespace {

using policy::EventLogWriter;
using std::span;

struct Loader {
  hal::Platform& p;
  uint64_t slb_base;
  BankList banks;
  BootParams bp{};
  uint64_t bp_pa = 0;
  bool have_bp = false;
  GuestTable guests{};  // validated copy; count 0 = no guests
  EventLogWriter log{nullptr, 0};
  bool log_ok = false;

  // Record and extend at locality 2 (policy/fs/measure.hpp: the extend happens even when the log is full).
  Status measure(uint32_t pcr, uint32_t type, const DigestList& d, span<const uint8_t> data) {
    return policy::measure_event(p.tpm(), policy::kLocalityDlme, log_ok ? &log : nullptr, pcr, type, d, data);
  }

  Status measure_data(uint32_t pcr, uint32_t type, span<const uint8_t> data) {
    return measure(pcr, type, policy::hash_banks(banks, data), data);
  }

  // The documented "launch failed" event into PCR17 and PCR18: digest = H(reason),
  // event data = the reason. Capping makes every later quote show the failure.
  void cap(const Status& why) {
    const char* msg = why.message();
    // A failure before the banks were read (a bad SLB header) must still cap every bank.
    if (banks.count == 0 && (!p.tpm().active_banks(banks) || banks.count == 0))
      p.console().print("[sl] no active PCR bank could be read: the cap below extends nothing\n");
    char reason[Status::kMsgCap + 32];
    size_t n = format(reason, sizeof reason, "%s: %s", err_name(why.code()), msg);
    span<const uint8_t> data(reinterpret_cast<const uint8_t*>(reason), n);
    for (uint32_t pcr : {policy::kPcrDrtmDetail, policy::kPcrDrtmAuthority}) {
      Status s = measure_data(pcr, policy::kEvLaunchFailed, data);
      if (!s) p.console().print("[sl] could not cap PCR%u: %s\n", pcr, s.message());
    }
    p.console().print("[sl] LAUNCH REFUSED (%s): %s\n", err_name(why.code()), msg);
  }

  Status region_ok(const char* what, const Region& r, uint64_t max) {
    if (r.size == 0) return Status::fail(Err::malformed, "boot params: %s region is empty", what);
    if (r.size > max) return Status::fail(Err::malformed, "boot params: %s is %llu bytes, limit %llu", what,
                                          (unsigned long long)r.size, (unsigned long long)max);
    if (r.pa + r.size < r.pa || !p.mem().map(r.pa, r.size))
      return Status::fail(Err::malformed, "boot params: %s [0x%llx, +0x%llx) is outside RAM", what,
                          (unsigned long long)r.pa, (unsigned long long)r.size);
    if (r.pa < slb_base + kSlbSize && slb_base < r.pa + r.size)
      return Status::fail(Err::malformed, "boot params: %s overlaps the SLB", what);
    return Status::ok();
  }

  static bool overlap(const Region& a, const Region& b) { return a.pa < b.pa + b.size && b.pa < a.pa + a.size; }
  static bool present(const Region& r) { return r.pa != 0 || r.size != 0; }
  bool has_policy() const { return present(bp.launch_policy); }

  Status read_boot_params() {
    uint8_t* slb = p.mem().map(slb_base, kSlbSize);
    uint64_t bp_pa;
    std::memcpy(&bp_pa, slb + kBootParamsPtrOffset, sizeof bp_pa);
    if (!p.mem().map(bp_pa, sizeof(BootParams)))
      return Status::fail(Err::malformed, "boot params pointer 0x%llx is outside RAM", (unsigned long long)bp_pa);
    if (bp_pa < slb_base + kSlbSize && slb_base < bp_pa + sizeof(BootParams))
      return Status::fail(Err::malformed, "boot params at 0x%llx overlap the SLB", (unsigned long long)bp_pa);
    // Protect before reading, then copy: no device can change them afterwards.
    REDOUBT_TRY(p.dma().protect(bp_pa, sizeof(BootParams)));
    std::memcpy(&bp, p.mem().map(bp_pa, sizeof bp), sizeof bp);
    if (std::memcmp(bp.magic, kBootParamsMagic, 8) != 0)
      return Status::fail(Err::malformed, "boot params at 0x%llx: bad magic", (unsigned long long)bp_pa);
    if (bp.size != sizeof(BootParams) || bp.version != 1)
      return Status::fail(Err::unsupported, "boot params: size %u version %u, expected %zu/1", bp.size, bp.version,
                          sizeof(BootParams));
    REDOUBT_TRY(region_ok("event log", bp.event_log, 16ull << 20));
    REDOUBT_TRY(region_ok("hypervisor image", bp.hv_image, 256ull << 20));
    REDOUBT_TRY(region_ok("hypervisor manifest", bp.hv_manifest, 64ull << 10));
    if (overlap(bp.event_log, bp.hv_image) || overlap(bp.event_log, bp.hv_manifest) ||
        overlap(bp.hv_image, bp.hv_manifest))
      return Status::fail(Err::malformed, "boot params: event log, image and manifest regions overlap");
    if (has_policy()) {
      REDOUBT_TRY(region_ok("launch policy", bp.launch_policy, kMaxLaunchPolicy));
      if (overlap(bp.launch_policy, bp.event_log) || overlap(bp.launch_policy, bp.hv_image) ||
          overlap(bp.launch_policy, bp.hv_manifest))
        return Status::fail(Err::malformed, "boot params: the launch policy overlaps the log, image or manifest");
    }
    // The SL's own stage 2 (a two-stage SL: stage 1 protected and checked it against
    // the SLB's pin before entering it). Nothing the loader names may overlap it.
    if (present(bp.sl_stage2)) {
      REDOUBT_TRY(region_ok("SL stage 2", bp.sl_stage2, kMaxStage2Size));
      REDOUBT_TRY(p.dma().protect(bp.sl_stage2.pa, bp.sl_stage2.size));
      if (overlap(bp.sl_stage2, bp.event_log) || overlap(bp.sl_stage2, bp.hv_image) ||
          overlap(bp.sl_stage2, bp.hv_manifest) || overlap(bp.sl_stage2, bp.launch_policy))
        return Status::fail(Err::malformed, "boot params: the log, image, manifest or policy overlaps SL stage 2");
    }
    this->bp_pa = bp_pa;
    REDOUBT_TRY(read_guest_table());
    REDOUBT_TRY(check_dma_region());
    have_bp = true;
    return Status::ok();
  }

  // A region the hypervisor or a guest will own: in RAM, page aligned, clear of
  // the SLB, the boot params, the log, the image and the manifest.
  Status owned_region_ok(const char* what, const Region& r, uint64_t max, uint64_t align) {
    REDOUBT_TRY(region_ok(what, r, max));
    if (r.pa % align != 0 || r.size % align != 0)
      return Status::fail(Err::malformed, "boot params: %s [0x%llx, +0x%llx) is not 0x%llx-aligned", what,
                          (unsigned long long)r.pa, (unsigned long long)r.size, (unsigned long long)align);
    const Region fixed[] = {{bp_pa, sizeof(BootParams)}, bp.event_log, bp.hv_image, bp.hv_manifest, bp.launch_policy,
                            bp.sl_stage2};
    for (const Region& f : fixed)
      if (overlap(r, f))
        return Status::fail(Err::malformed, "boot params: %s overlaps the boot params, log, image, manifest, policy or SL stage 2",
                            what);
    return Status::ok();
  }

  // Optional hypervisor memory and guest table (AMD-V issue). The guests are
  // range-checked and DEV-protected here, not measured (a later issue does).
  Status read_guest_table() {
    const bool has_mem = bp.hv_memory.pa != 0 || bp.hv_memory.size != 0;
    const bool has_table = bp.guest_table.pa != 0 || bp.guest_table.size != 0;
    if (!has_table && !has_mem) return Status::ok();
    if (!has_mem) return Status::fail(Err::malformed, "boot params: guests need a hypervisor memory region");
    REDOUBT_TRY(owned_region_ok("hypervisor memory", bp.hv_memory, 1ull << 30, 4096));
    REDOUBT_TRY(p.dma().protect(bp.hv_memory.pa, bp.hv_memory.size));
    if (!has_table) return Status::ok();
    REDOUBT_TRY(region_ok("guest table", bp.guest_table, sizeof(GuestTable)));
    if (bp.guest_table.size < 16) return Status::fail(Err::malformed, "boot params: guest table is truncated");
    if (overlap(bp.guest_table, bp.hv_memory))
      return Status::fail(Err::malformed, "boot params: guest table overlaps the hypervisor memory");
    REDOUBT_TRY(p.dma().protect(bp.guest_table.pa, bp.guest_table.size));
    std::memcpy(&guests, p.mem().map(bp.guest_table.pa, bp.guest_table.size), bp.guest_table.size);
    if (std::memcmp(guests.magic, kGuestTableMagic, 8) != 0)
      return Status::fail(Err::malformed, "guest table at 0x%llx: bad magic", (unsigned long long)bp.guest_table.pa);
    if (guests.entry_size != sizeof(GuestEntry) || guests.count > kMaxGuests ||
        bp.guest_table.size < 16 + guests.count * sizeof(GuestEntry))
      return Status::fail(Err::malformed, "guest table: %u entries of %u bytes do not fit (max %u of %zu)",
                          guests.count, guests.entry_size, kMaxGuests, sizeof(GuestEntry));
    for (uint32_t i = 0; i < guests.count; ++i) {
      GuestEntry& g = guests.entries[i];
      if (g.name[0] == 0 || g.name[sizeof g.name - 1] != 0)
        return Status::fail(Err::malformed, "guest table: entry %u has no NUL-terminated name", i);
      for (const char* c = g.name; *c; ++c)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '_'))
          return Status::fail(Err::malformed, "guest table: entry %u name has a character outside [A-Za-z0-9_-]", i);
      char what[48];
      format(what, sizeof what, "guest %s image", g.name);
      REDOUBT_TRY(owned_region_ok(what, g.image, 64ull << 20, 1));
      format(what, sizeof what, "guest %s RAM", g.name);
      REDOUBT_TRY(owned_region_ok(what, g.ram, 1ull << 30, 2ull << 20));
      if (present(g.manifest)) {
        format(what, sizeof what, "guest %s manifest", g.name);
        REDOUBT_TRY(owned_region_ok(what, g.manifest, kMaxGuestManifest, 1));
      }
      if (present(g.initrd)) {
        format(what, sizeof what, "guest %s initrd", g.name);
        REDOUBT_TRY(owned_region_ok(what, g.initrd, 256ull << 20, 1));
      }
      const Region mine[] = {g.image, g.ram, g.manifest, g.initrd};
      for (const Region& r : mine) {
        if (overlap(r, bp.hv_memory) || overlap(r, bp.guest_table))
          return Status::fail(Err::malformed, "guest table: guest %s overlaps the hypervisor memory or the table",
                              g.name);
        if (!present(r)) continue;
        for (const Region& o : mine)
          if (&o != &r && present(o) && overlap(r, o))
            return Status::fail(Err::malformed, "guest table: guest %s regions overlap each other", g.name);
        for (uint32_t j = 0; j < i; ++j)
          if (overlap(r, guests.entries[j].image) || overlap(r, guests.entries[j].ram) ||
              overlap(r, guests.entries[j].manifest) || overlap(r, guests.entries[j].initrd))
            return Status::fail(Err::malformed, "guest table: guests %s and %s overlap", guests.entries[j].name,
                                g.name);
      }
      for (const Region& r : mine)
        if (present(r)) REDOUBT_TRY(p.dma().protect(r.pa, r.size));
    }
    return check_devices(guests);
  }

  // Assigned devices (docs/dma.md "Device assignment"): a bounded count, and no DeviceID
  // given to two guests (or twice to one). Whether a DeviceID is an assignable device at all
  // is the hypervisor's check (it reads the device), as is the policy on who may have one.
  static Status check_devices(const GuestTable& t) {
    for (uint32_t i = 0; i < t.count && i < kMaxGuests; ++i) {
      const GuestEntry& g = t.entries[i];
      if (g.device_count > kMaxGuestDevices)
        return Status::fail(Err::malformed, "guest table: guest %u lists %u devices, at most %u", i, g.device_count,
                            kMaxGuestDevices);
      for (uint32_t k = 0; k < g.device_count; ++k)
        for (uint32_t j = 0; j <= i; ++j)
          for (uint32_t l = 0; l < t.entries[j].device_count && (j < i || l < k); ++l)
            if (t.entries[j].devices[l] == g.devices[k])
              return Status::fail(Err::malformed, "guest table: device %02x:%02x.%x is assigned twice (guests %u and %u)",
                                  g.devices[k] >> 8, (g.devices[k] >> 3) & 31, g.devices[k] & 7, j, i);
    }
    return Status::ok();
  }

  // The DMA-protection tables' region (stage 1 put the DEV table, or AMD-Vi's, at its start):
  // the hypervisor builds AMD-Vi's tables in the rest, so all of it is protected here and it
  // may overlap nothing the hypervisor or a guest owns.
  Status check_dma_region() {
    if (!present(bp.dev_table)) return Status::ok();
    REDOUBT_TRY(owned_region_ok("DMA tables", bp.dev_table, 64ull << 20, 4096));
    if (overlap(bp.dev_table, bp.hv_memory) || overlap(bp.dev_table, bp.guest_table))
      return Status::fail(Err::malformed, "boot params: the DMA tables overlap the hypervisor memory or the guest table");
    for (uint32_t i = 0; i < guests.count && i < kMaxGuests; ++i) {
      const GuestEntry& g = guests.entries[i];
      if (overlap(bp.dev_table, g.image) || overlap(bp.dev_table, g.ram) || overlap(bp.dev_table, g.manifest) ||
          overlap(bp.dev_table, g.initrd))
        return Status::fail(Err::malformed, "boot params: the DMA tables overlap guest %s", g.name);
    }
    return p.dma().protect(bp.dev_table.pa, bp.dev_table.size);
  }

  Status start_log(const SlbHeader& h) {
    uint8_t* buf = p.mem().map(bp.event_log.pa, bp.event_log.size);
    REDOUBT_TRY(p.dma().protect(bp.event_log.pa, bp.event_log.size));
    log = EventLogWriter(buf, bp.event_log.size);
    if (present(bp.txt_log)) return continue_sinit_log(buf);
    REDOUBT_TRY(log.write_header(banks));
    log_ok = true;
    // First record: the CPU's own measurement of SLB[0:length] (already in PCR17
    // through the locality-4 hash sequence; logged here, not extended again).
    const uint8_t* measured = p.slb_as_measured(slb_base, h.length);
    if (!measured) return Status::fail(Err::internal, "the SLB as SKINIT measured it (length 0x%x) is not available", h.length);
    return policy::append_skinit_slb_event(log, banks, slb_base, span<const uint8_t>(measured, h.length));
  }

  // Intel TXT (docs/pcr-map.md "Intel TXT"): SINIT wrote the Spec ID header and its events into the
  // event log region, which the heap's HEAP_EVENT_LOG_POINTER_ELEMENT2_1 names (MLE DG C.4); the SL
  // continues that log at NextRecordOffset instead of starting its own with an SKINIT event. Untrusted
  // input like the rest: a log that lies about what was extended does not replay to the quote.
  Status continue_sinit_log(const uint8_t* buf) {
    const uint8_t* el = bp.txt_log.size == 24 ? p.mem().map(bp.txt_log.pa, 24) : nullptr;
    if (!el) return Status::fail(Err::malformed, "boot params: the TXT log element [0x%llx, +0x%llx) is not 24 bytes in RAM",
                                 (unsigned long long)bp.txt_log.pa, (unsigned long long)bp.txt_log.size);
    uint64_t pa;
    uint32_t allocated, next;
    std::memcpy(&pa, el, 8);
    std::memcpy(&allocated, el + 8, 4);
    std::memcpy(&next, el + 16, 4);
    if (pa != bp.event_log.pa || allocated > bp.event_log.size)
      return Status::fail(Err::malformed, "SINIT's log container 0x%llx (%u bytes) is not the boot params' event log",
                          (unsigned long long)pa, allocated);
    uint8_t want[256];  // the header SINIT must have written: one naming exactly the active banks
    EventLogWriter hdr(want, sizeof want);
    REDOUBT_TRY(hdr.write_header(banks));
    if (next < hdr.size() || next > allocated || std::memcmp(buf, want, hdr.size()) != 0)
      return Status::fail(Err::malformed, "SINIT's log: NextRecordOffset %u of %u bytes, or its header does not name the %u active banks",
                          next, allocated, banks.count);
    REDOUBT_TRY(log.resume(next, banks));
    log_ok = true;
    return Status::ok();
  }

  // A key sealed into the measured SLB: the hypervisor signer's, or the owner's.
  Status sealed_key(const SlbHeader& h, uint16_t off, const char* magic, const char* whose, policy::PublicKey& key) {
    if (off < sizeof(SlbHeader) || off + sizeof(SlbKeySlot) > h.length)
      return Status::fail(Err::malformed, "SLB %s key slot at 0x%x is outside the measured region (length 0x%x)",
                          whose, off, h.length);
    SlbKeySlot slot;
    std::memcpy(&slot, p.mem().map(slb_base + off, sizeof slot), sizeof slot);
    if (std::memcmp(slot.magic, magic, 8) != 0)
      return Status::fail(Err::malformed, "SLB %s key slot: bad magic", whose);
    if (slot.sec1_len == 0)
      return Status::fail(Err::wrong_key, "no %s key is sealed into the SLB (redoubt slb seal)", whose);
    bool p256 = slot.cose_alg == int32_t(policy::CoseAlg::es256) && slot.sec1_len == 65;
    bool p384 = slot.cose_alg == int32_t(policy::CoseAlg::es384) && slot.sec1_len == 97;
    if (!(p256 || p384) || slot.sec1[0] != 0x04)
      return Status::fail(Err::unsupported, "SLB key slot: alg %d with a %u-byte key is not ES256/ES384",
                          slot.cose_alg, slot.sec1_len);
    key.alg = policy::CoseAlg(slot.cose_alg);
    key.sec1_len = slot.sec1_len;
    std::memcpy(key.sec1, slot.sec1, slot.sec1_len);
    return Status::ok();
  }

  Status verify_and_measure(hal::HypervisorHandoff& ho) {
    const SlbHeader& h = *reinterpret_cast<const SlbHeader*>(p.mem().map(slb_base, sizeof(SlbHeader)));
    SlbHeader hdr = h;  // the SLB is DEV-protected, but copy once anyway
    if (std::memcmp(hdr.magic, kSlbMagic, 8) != 0 || hdr.version != 1)
      return Status::fail(Err::malformed, "SLB header: not a Redoubt SL (magic/version)");
    if (hdr.length > kMaxMeasuredLength)
      return Status::fail(Err::malformed, "SLB length 0x%x overlaps the boot-params pointer at 0x%llx", hdr.length,
                          (unsigned long long)kBootParamsPtrOffset);
    REDOUBT_TRY(p.tpm().active_banks(banks));
    if (banks.count == 0) return Status::fail(Err::tpm, "the TPM has no active PCR bank");
    REDOUBT_TRY(read_boot_params());
    REDOUBT_TRY(start_log(hdr));
    p.console().print(present(bp.txt_log) ? "[sl] DRTM log: continuing SINIT's at 0x%llx (%u banks)\n" : "[sl] DRTM log started at 0x%llx (%u banks)\n",
                      (unsigned long long)bp.event_log.pa, banks.count);

    policy::PublicKey key;
    REDOUBT_TRY(sealed_key(hdr, hdr.key_slot_offset, kKeySlotMagic, "hypervisor-signing", key));

    // DEV-protect the inputs before the first read (no DMA time-of-check/time-of-use).
    REDOUBT_TRY(p.dma().protect(bp.hv_manifest.pa, bp.hv_manifest.size));
    REDOUBT_TRY(p.dma().protect(bp.hv_image.pa, bp.hv_image.size));
    span<const uint8_t> manifest(p.mem().map(bp.hv_manifest.pa, bp.hv_manifest.size), bp.hv_manifest.size);
    span<const uint8_t> image(p.mem().map(bp.hv_image.pa, bp.hv_image.size), bp.hv_image.size);

    policy::CoseSign1 cose;
    REDOUBT_TRY(policy::cose_sign1_parse(manifest, cose));
    REDOUBT_TRY(policy::cose_sign1_verify(cose, key));
    policy::HvManifest m;
    REDOUBT_TRY(policy::hv_manifest_decode(cose.payload, m));
    uint8_t kid[32];
    policy::key_id(key, kid);
    if (std::memcmp(kid, m.signer_kid, 32) != 0)
      return Status::fail(Err::wrong_key, "manifest names signer %02x%02x%02x%02x…, the SLB key is %02x%02x%02x%02x…",
                          m.signer_kid[0], m.signer_kid[1], m.signer_kid[2], m.signer_kid[3], kid[0], kid[1], kid[2],
                          kid[3]);
    p.console().print("[sl] manifest verified: %s %s svn %llu\n", m.name, m.version, (unsigned long long)m.svn);

    if (m.image_size != image.size())
      return Status::fail(Err::digest_mismatch, "hypervisor image is %zu bytes, the manifest says %llu", image.size(),
                          (unsigned long long)m.image_size);
    // One pass per bank over the image; the manifest's digest reuses its bank when active.
    const DigestList image_digests = policy::hash_banks(banks, image);
    Digest got{};
    bool have = false;
    for (uint32_t i = 0; i < image_digests.count; ++i)
      if (image_digests.d[i].alg == m.digest_alg) {
        got = image_digests.d[i];
        have = true;
      }
    if (!have) got = policy::hash(m.digest_alg, image);
    if (std::memcmp(got.bytes, m.digest, got.size()) != 0) {
      char want_hex[129], got_hex[129];
      to_hex(m.digest, 8, want_hex);
      to_hex(got.bytes, 8, got_hex);
      return Status::fail(Err::digest_mismatch, "hypervisor image %s %s… does not match the manifest's %s…",
                          hash_alg_name(m.digest_alg), got_hex, want_hex);
    }

    // Anti-rollback: the manifest's SVN must not be below the TPM NV counter.
    uint64_t min_svn = 0;
    REDOUBT_TRY(p.tpm().nv_read_counter(policy::kLocalityDlme, policy::kNvHvSvnCounter, min_svn));
    if (m.svn < min_svn)
      return Status::fail(Err::rollback, "hypervisor SVN %llu is below the anti-rollback counter %llu (NV 0x%08x)",
                          (unsigned long long)m.svn, (unsigned long long)min_svn, policy::kNvHvSvnCounter);

    if (image.size() < sizeof(hv::HvImageHeader))
      return Status::fail(Err::malformed, "hypervisor image is smaller than its header");
    hv::HvImageHeader ih;
    std::memcpy(&ih, image.data(), sizeof ih);
    if (std::memcmp(ih.magic, hv::kHvImageMagic, 8) != 0 || ih.entry_offset >= image.size())
      return Status::fail(Err::malformed, "hypervisor image header: bad magic or entry offset 0x%x", ih.entry_offset);

    // The launch policy (issue 4): the owner's signature, checked on a protected copy.
    policy::LaunchPolicyEnvelope pol;
    if (has_policy()) {
      if (!hdr.owner_slot_offset)
        return Status::fail(Err::wrong_key, "a launch policy was given, but this SLB has no owner key slot");
      policy::PublicKey owner;
      REDOUBT_TRY(sealed_key(hdr, hdr.owner_slot_offset, kOwnerSlotMagic, "platform owner", owner));
      REDOUBT_TRY(p.dma().protect(bp.launch_policy.pa, bp.launch_policy.size));
      span<const uint8_t> bytes(p.mem().map(bp.launch_policy.pa, bp.launch_policy.size), bp.launch_policy.size);
      REDOUBT_TRY(policy::launch_policy_open(bytes, owner, pol));
      p.console().print("[sl] launch policy verified: %zu guest trust anchor(s)\n", pol.anchor_count);
    }

    // Measurements, in the documented order (docs/pcr-map.md).
    REDOUBT_TRY(measure_data(policy::kPcrDrtmDetail, policy::kEvHvManifest, cose.payload));
    {
      char desc[128];
      size_t n = format(desc, sizeof desc, "hypervisor image %s %s (%zu bytes)", m.name, m.version, image.size());
      REDOUBT_TRY(measure(policy::kPcrDrtmDetail, policy::kEvHvImage, image_digests,
                          span<const uint8_t>(reinterpret_cast<const uint8_t*>(desc), n)));
    }
    REDOUBT_TRY(measure_data(policy::kPcrDrtmAuthority, policy::kEvHvSigner, key.bytes()));
    // PCR17 proves which policy governs the guests; PCR18 which corporate roots it trusts.
    if (has_policy()) {
      REDOUBT_TRY(measure_data(policy::kPcrDrtmDetail, policy::kEvLaunchPolicy, pol.payload));
      for (size_t i = 0; i < pol.anchor_count; ++i)
        REDOUBT_TRY(measure_data(policy::kPcrDrtmAuthority, policy::kEvGuestAnchor, pol.anchors[i]));
    }
    // EV_SEPARATOR closes the SL's measurements in both PCRs (TCG PFP §10.4.1:
    // event data 00000000h, digest = H(event data)).
    static constexpr uint8_t kSep[4] = {0, 0, 0, 0};
    REDOUBT_TRY(measure_data(policy::kPcrDrtmDetail, policy::kEvSeparator, kSep));
    REDOUBT_TRY(measure_data(policy::kPcrDrtmAuthority, policy::kEvSeparator, kSep));

    ho.slb_base = slb_base;
    ho.hv_image_pa = bp.hv_image.pa;
    ho.hv_image_size = bp.hv_image.size;
    ho.hv_entry_pa = bp.hv_image.pa + ih.entry_offset;
    ho.event_log_pa = bp.event_log.pa;
    ho.event_log_cap = bp.event_log.size;
    ho.event_log_used = log.size();
    ho.hv_svn = m.svn;
    std::memcpy(ho.hv_name, m.name, sizeof ho.hv_name);
    std::memcpy(ho.hv_version, m.version, sizeof ho.hv_version);
    ho.banks = banks;
    ho.policy_pa = has_policy() ? bp.launch_policy.pa : 0;
    ho.policy_size = has_policy() ? bp.launch_policy.size : 0;
    ho.hv_memory_pa = bp.hv_memory.pa;
    ho.hv_memory_size = bp.hv_memory.size;
    ho.guest_count = guests.count;
    for (uint32_t i = 0; i < guests.count; ++i) {
      const GuestEntry& g = guests.entries[i];
      auto& o = ho.guests[i];
      std::memcpy(o.name, g.name, sizeof o.name);
      o.image_pa = g.image.pa;
      o.image_size = g.image.size;
      o.ram_pa = g.ram.pa;
      o.ram_size = g.ram.size;
      o.manifest_pa = g.manifest.pa;
      o.manifest_size = g.manifest.size;
      o.initrd_pa = g.initrd.pa;
      o.initrd_size = g.initrd.size;
      std::memcpy(o.args, g.args, sizeof o.args);
      o.flags = g.flags;
      o.io_base = g.io_base;
      o.io_count = g.io_count;
      o.device_count = g.device_count;
      std::memcpy(o.devices, g.devices, sizeof o.devices);
    }
    ho.dma_region_pa = bp.dev_table.pa;
    ho.dma_region_size = bp.dev_table.size;
    return Status::ok();
  }
};

}  // namespace

Outcome refuse(hal::Platform& platform, uint64_t slb_base, const Status& why) {
  Loader l{platform, slb_base};
  l.cap(why);
  Outcome out;
  out.reason = why;
  return out;
}

Outcome secure_loader_main(hal::Platform& platform, uint64_t slb_base) {
  Outcome out;
  platform.console().print("[sl] Redoubt secure loader entered, SLB at 0x%llx\n", (unsigned long long)slb_base);
  if (!platform.mem().map(slb_base, kSlbSize)) {
    out.reason = Status::fail(Err::fault, "SLB at 0x%llx is not in RAM", (unsigned long long)slb_base);
    return out;  // nothing to measure from: the CPU would never have got here
  }
  Loader l{platform, slb_base};
  hal::HypervisorHandoff ho{};
  Status s = l.verify_and_measure(ho);
  if (!s) {
    l.cap(s);
    out.reason = s;
    out.event_log_used = l.log_ok ? l.log.size() : 0;
    return out;
  }
  out.event_log_used = l.log.size();
  platform.console().print("[sl] measurements done; entering hypervisor at 0x%llx\n",
                           (unsigned long long)ho.hv_entry_pa);
  out.launched = true;
  out.reason = platform.enter_hypervisor(ho);
  out.event_log_used = ho.event_log_used;  // now with the hypervisor's guest events
  return out;
}

}  // namespace redoubt::sl
