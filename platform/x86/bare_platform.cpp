#include "platform/x86/bare_platform.hpp"

#include "arch/intel/txt_secrets.hpp"

#include <cstdint>

#include "abi/slb_layout.hpp"
#include "platform/x86/launch_report.hpp"
#include "platform/x86/port_io.hpp"

namespace redoubt::x86 {
namespace {

constexpr uint16_t kCom1 = 0x3F8;  // 16550 UART: THR at +0, LSR at +5 (bit 5 = THR empty)

void serial_put(char c) {
  for (int spin = 0; spin < 100000 && !(inb(kCom1 + 5) & 0x20); ++spin) {
  }
  outb(kCom1, static_cast<uint8_t>(c));
}

// Both images map the first 512 GiB (sl_entry.S, hv_entry.S).
constexpr uint64_t kIdentityLimit = 512ull << 30;

}  // namespace

void fatal(const char* why) { launch_fail(Err::internal, why); }

void SerialConsole::write(const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (s[i] == '\n') serial_put('\r');
    serial_put(s[i]);
  }
}

uint8_t* IdentityMemory::map(uint64_t pa, uint64_t n) {
  // Page 0 is never a valid buffer (and keeps nullptr meaning "outside RAM").
  if (pa == 0 || pa + n < pa || pa + n > kIdentityLimit) return nullptr;
  return reinterpret_cast<uint8_t*>(static_cast<uintptr_t>(pa));
}

hal::Svm& BarePlatform::svm() {
  if (!svm_) launch_fail(Err::internal, "AMD-V is not available to this image (the secure loader runs no guests)");
  return *svm_;
}

void BarePlatform::halt(const char* why) { launch_fail(Err::internal, why); }

const uint8_t* BarePlatform::slb_as_measured(uint64_t slb_base, uint64_t length) {
  const uint64_t off = sl::slb_measured_copy_offset(length);
  if (off + length > sl::kBootParamsPtrOffset) return nullptr;  // sl_entry.S refused to copy it
  return mem().map(slb_base + off, length);
}

bool BarePlatform::secrets_in_memory(bool present) {
  using namespace arch::txt;
  // Intel TXT SDG App. B.1: a write of any value to the command register; E2STS.SECRETS_STS shows it.
  *reinterpret_cast<volatile uint64_t*>(kPrivateBase + (present ? kCmdSecrets : kCmdNoSecrets)) = 1;
  const uint64_t e2sts = *reinterpret_cast<volatile uint64_t*>(kPublicBase + kE2sts);
  if (e2sts == ~0ull) return false;  // nothing answers there
  return ((e2sts & e2sts::kSecretsSts) != 0) == present;
}

}  // namespace redoubt::x86
