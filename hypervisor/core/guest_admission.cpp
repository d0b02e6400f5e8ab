#include "hypervisor/core/guest_admission.hpp"

#include <cstdarg>
#include <cstring>
#include <new>

#include "platform/hal/format.hpp"
#include "policy/fs/cose.hpp"
#include "policy/fs/hash.hpp"
#include "policy/fs/measure.hpp"
#include "policy/fs/pcr_map.hpp"

namespace redoubt::hv {
namespace {

using std::span;

span<const uint8_t> text(const char* s) { return {reinterpret_cast<const uint8_t*>(s), std::strlen(s)}; }

}  // namespace

Status GuestAdmission::init(hal::Platform& p, hal::HypervisorHandoff& h, PageAllocator& alloc) {
  p_ = &p;
  h_ = &h;
  uint64_t pa;
  const uint64_t pages = (sizeof(Scratch) + PageAllocator::kPage - 1) / PageAllocator::kPage;
  REDOUBT_TRY(alloc.alloc(pages, 1, pa, "guest admission (policy, manifest copies)"));
  s_ = new (alloc.map(pa, sizeof(Scratch))) Scratch{};

  // The SL's log continues here: same buffer, same banks (TCG PFP §10.2.2: one log per PCR set).
  uint8_t* buf = p.mem().map(h.event_log_pa, h.event_log_cap);
  if (buf && p.dma().is_protected(h.event_log_pa, h.event_log_cap)) {
    log_ = policy::EventLogWriter(buf, h.event_log_cap);
    log_ok_ = bool(log_.resume(h.event_log_used, h.banks));
  }

  if (h.policy_size == 0) {
    format(policy_problem_, sizeof policy_problem_, "no launch policy was measured at launch");
    return Status::ok();
  }
  if (h.policy_size > sizeof s_->policy_copy || !p.dma().is_protected(h.policy_pa, h.policy_size) ||
      !p.mem().map(h.policy_pa, h.policy_size)) {
    format(policy_problem_, sizeof policy_problem_, "the launch policy region is not protected or too large");
    return Status::ok();
  }
  // Decode our own copy: LaunchPolicy points into it, and nothing else can change it.
  std::memcpy(s_->policy_copy, p.mem().map(h.policy_pa, h.policy_size), h.policy_size);
  policy::CoseSign1 cose;
  policy::Refusal why = policy::Refusal::none;
  Status st = policy::cose_sign1_parse({s_->policy_copy, h.policy_size}, cose);
  if (st) st = policy::launch_policy_decode(cose.payload, s_->policy, why);
  if (!st) {
    format(policy_problem_, sizeof policy_problem_, "the signed launch policy does not decode: %s", st.message());
    return Status::ok();
  }
  policy_ok_ = true;
  p.console().print("[hv] launch policy '%s' serial %llu: %zu anchor(s), %zu revocation(s), unsigned guests %s\n",
                    s_->policy.name, (unsigned long long)s_->policy.serial, s_->policy.anchor_count,
                    s_->policy.revocation_count,
                    s_->policy.unsigned_guests == policy::UnsignedGuests::refuse ? "refused" : "allowed unmeasured");
  return Status::ok();
}

// As the SL measures (policy/fs/measure.hpp); without the SL's log the guest
// is still measured into the PCR, but the failure is reported (the guest is refused).
Status GuestAdmission::measure(uint32_t pcr, uint32_t type, const DigestList& d, span<const uint8_t> data) {
  REDOUBT_TRY(policy::measure_event(p_->tpm(), policy::kLocalityDlme, log_ok_ ? &log_ : nullptr, pcr, type, d, data));
  if (!log_ok_) return Status::fail(Err::io, "the DRTM event log is not available to the hypervisor");
  h_->event_log_used = log_.size();
  return Status::ok();
}

Status GuestAdmission::measure_text(uint32_t pcr, uint32_t type, const DigestList* d, const char* t) {
  return measure(pcr, type, d ? *d : policy::hash_banks(h_->banks, text(t)), text(t));
}

void GuestAdmission::refuse(AdmissionResult& out, const char* label, const char* refusal, const char* fmt, ...) {
  out.how = Admission::refused;
  format(out.refusal, sizeof out.refusal, "%s", refusal);
  va_list ap;
  va_start(ap, fmt);
  format_v(out.reason, sizeof out.reason, fmt, ap);
  va_end(ap);
  // The refusal is measured into both guest PCRs, so a quote shows the attempt.
  char ev[384];
  format(ev, sizeof ev, "guest %s refused: %s: %s", label, out.refusal, out.reason);
  for (uint32_t pcr : {policy::kPcrGuestAuthority, policy::kPcrGuestDetail}) {
    Status s = measure_text(pcr, policy::kEvGuestRefused, nullptr, ev);
    if (!s) p_->console().print("[hv] could not record the refusal in PCR%u: %s\n", pcr, s.message());
  }
  p_->console().print("[hv] guest %s REFUSED (%s): %s\n", label, out.refusal, out.reason);
}

Status GuestAdmission::guest_svn_floor(span<const uint8_t> name, uint64_t& floor, uint32_t& index) {
  const Digest d = policy::hash(HashAlg::sha256, name);
  index = policy::kNvGuestSvnBase + d.bytes[0] % policy::kNvGuestSvnSlots;
  Status st = p_->tpm().nv_read_counter(policy::kLocalityDlme, index, floor);
  if (!st && st.code() == Err::not_found) {  // never advanced for this name: no floor yet
    floor = 0;
    return Status::ok();
  }
  return st;
}

void GuestAdmission::admit(const hal::HypervisorHandoff::Guest& g, span<const uint8_t> kernel,
                           span<const uint8_t> initrd, AdmissionResult& out) {
  out = AdmissionResult{};
  format(out.name, sizeof out.name, "%s", g.name);
  if (!policy_ok_) return refuse(out, g.name, h_->policy_size ? "policy_invalid" : "no_launch_policy", "%s", policy_problem_);
  // An I/O grant from the (untrusted) loader must lie inside a range the signed policy passes through.
  if (g.io_count) {
    bool inside = false;
    const uint32_t first = g.io_base, last = uint32_t(g.io_base) + g.io_count - 1;
    for (size_t i = 0; i < s_->policy.io_count; ++i)
      inside |= first >= s_->policy.io[i].first && last <= s_->policy.io[i].last;
    if (!inside)
      return refuse(out, g.name, "io_not_allowed", "ports 0x%x-0x%x are not in the launch policy's guest_io", first, last);
  }
  if (g.manifest_size == 0) return admit_unsigned(g, kernel, initrd, out);
  admit_signed(g, kernel, initrd, out);
}

void GuestAdmission::admit_signed(const hal::HypervisorHandoff::Guest& g, span<const uint8_t> kernel,
                                  span<const uint8_t> initrd, AdmissionResult& out) {
  if (g.manifest_size > sizeof s_->manifest_copy || !p_->mem().map(g.manifest_pa, g.manifest_size))
    return refuse(out, g.name, "malformed", "the manifest region is outside RAM or over %zu bytes",
                  sizeof s_->manifest_copy);
  std::memcpy(s_->manifest_copy, p_->mem().map(g.manifest_pa, g.manifest_size), g.manifest_size);
  span<const uint8_t> manifest(s_->manifest_copy, g.manifest_size);

  policy::GuestManifest& m = s_->manifest;
  policy::VerifiedChain& chain = s_->chain;
  policy::Refusal why = policy::Refusal::none;
  Status st = policy::verify_guest(s_->policy, manifest, kernel, initrd, m, chain, why);
  if (!st) return refuse(out, g.name, policy::refusal_name(why), "%s", policy::without_refusal_prefix(st.message(), why));
  format(out.name, sizeof out.name, "%s", m.name);
  format(out.version, sizeof out.version, "%s", m.version);
  out.svn = m.svn;
  out.cmdline = m.cmdline;

  // The hardware floor: a TPM NV counter per guest name (survives policy changes).
  uint64_t floor = 0;
  uint32_t index = 0;
  span<const uint8_t> name(reinterpret_cast<const uint8_t*>(m.name), std::strlen(m.name));
  st = guest_svn_floor(name, floor, index);
  if (!st) return refuse(out, g.name, "tpm", "reading the SVN counter for %s: %s", m.name, st.message());
  if (m.svn < floor)
    return refuse(out, g.name, "rollback", "guest %s SVN %llu is below the TPM anti-rollback counter %llu (NV 0x%08x)",
                  m.name, (unsigned long long)m.svn, (unsigned long long)floor, index);
  if (m.memory_mib << 20 != g.ram_size)
    return refuse(out, g.name, "memory_mismatch", "the manifest asks for %llu MiB, the loader gave %llu MiB",
                  (unsigned long long)m.memory_mib, (unsigned long long)(g.ram_size >> 20));

  // Authority, then detail (docs/trust-model.md).
  st = measure(policy::kPcrGuestAuthority, policy::kEvGuestChain, policy::hash_banks(h_->banks, chain.x5chain),
               chain.x5chain);
  if (st) st = measure(policy::kPcrGuestDetail, policy::kEvGuestManifest, policy::hash_banks(h_->banks, m.payload),
                       m.payload);
  if (!st) return refuse(out, g.name, "log_full", "measuring the guest failed: %s", st.message());
  out.how = Admission::signed_measured;
  p_->console().print("[hv] guest %s admitted: %s %s SVN %llu, %zu-certificate chain, measured into PCR19/20\n",
                      g.name, m.name, m.version, (unsigned long long)m.svn, chain.count);
}

void GuestAdmission::admit_unsigned(const hal::HypervisorHandoff::Guest& g, span<const uint8_t> kernel,
                                    span<const uint8_t> initrd, AdmissionResult& out) {
  policy::Refusal why = policy::Refusal::none;
  Status st = policy::check_unsigned_guest(s_->policy, why);
  if (!st) return refuse(out, g.name, policy::refusal_name(why), "%s", policy::without_refusal_prefix(st.message(), why));
  // Allowed, and attestably so: a marker in PCR19 and the plain image digests in PCR20.
  char ev[160];
  format(ev, sizeof ev, "unsigned guest %s", g.name);
  st = measure_text(policy::kPcrGuestAuthority, policy::kEvGuestUnsigned, nullptr, ev);
  if (st) {
    format(ev, sizeof ev, "unsigned guest %s kernel (%zu bytes)", g.name, kernel.size());
    const DigestList d = policy::hash_banks(h_->banks, kernel);
    st = measure_text(policy::kPcrGuestDetail, policy::kEvGuestImage, &d, ev);
  }
  if (st && !initrd.empty()) {
    format(ev, sizeof ev, "unsigned guest %s initrd (%zu bytes)", g.name, initrd.size());
    const DigestList d = policy::hash_banks(h_->banks, initrd);
    st = measure_text(policy::kPcrGuestDetail, policy::kEvGuestImage, &d, ev);
  }
  if (!st) return refuse(out, g.name, "log_full", "measuring the guest failed: %s", st.message());
  out.how = Admission::unsigned_measured;
  p_->console().print("[hv] guest %s admitted UNSIGNED (the launch policy allows it); measured as such\n", g.name);
}

void GuestAdmission::record_failure(const hal::HypervisorHandoff::Guest& g, const Status& why) {
  char ev[384];
  format(ev, sizeof ev, "guest %s refused: failed: %s", g.name, why.message());
  for (uint32_t pcr : {policy::kPcrGuestAuthority, policy::kPcrGuestDetail}) {
    Status s = measure_text(pcr, policy::kEvGuestRefused, nullptr, ev);
    if (!s) p_->console().print("[hv] could not record the failure in PCR%u: %s\n", pcr, s.message());
  }
}

Status GuestAdmission::finish() {
  static constexpr uint8_t kSep[4] = {0, 0, 0, 0};  // TCG PFP §10.4.1: EV_SEPARATOR data 00000000h
  for (uint32_t pcr : {policy::kPcrGuestAuthority, policy::kPcrGuestDetail})
    REDOUBT_TRY(measure(pcr, policy::kEvSeparator, policy::hash_banks(h_->banks, kSep), kSep));
  return Status::ok();
}

}  // namespace redoubt::hv
