// Client of swtpm's out-of-band control channel over TCP.
// Protocol (swtpm include/swtpm/tpm_ioctl.h, "Commands used by the non-CUSE TPMs"; all big-endian):
// request = uint32 command code + the 'req' part of the ioctl struct; response = uint32
// ptm_res (0 = success) + the rest of the 'resp' part.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace redoubt::tpm {

// Command codes from swtpm tpm_ioctl.h (enum CMD_*, 0x01..0x13), the same values tpm2-tss'
// tcti-swtpm.c uses: GET_CAPABILITY=1 INIT=2 SHUTDOWN=3 SET_LOCALITY=5 HASH_START=6 HASH_DATA=7 HASH_END=8.
enum SwtpmCmd : uint32_t {
  kSwtpmGetCapability = 0x01,
  kSwtpmInit = 0x02,
  kSwtpmShutdown = 0x03,
  kSwtpmGetTpmEstablished = 0x04,
  kSwtpmSetLocality = 0x05,
  kSwtpmHashStart = 0x06,
  kSwtpmHashData = 0x07,  // req: uint32 length + data[length], length <= 4096 (ptm_hdata)
  kSwtpmHashEnd = 0x08,
  kSwtpmCancelTpmCmd = 0x09,
  kSwtpmStoreVolatile = 0x0a,
  kSwtpmResetTpmEstablished = 0x0b,  // req: uint8 locality (QEMU sends sizeof(ptm_reset_est) = 4 bytes)
  kSwtpmGetStateBlob = 0x0c,
  kSwtpmSetStateBlob = 0x0d,
  kSwtpmStop = 0x0e,
  kSwtpmGetConfig = 0x0f,
  kSwtpmSetDataFd = 0x10,  // the fd travels as SCM_RIGHTS ancillary data (UNIX sockets only)
  kSwtpmSetBufferSize = 0x11,
  kSwtpmGetInfo = 0x12,
  kSwtpmLockStorage = 0x13,
};
constexpr uint32_t kSwtpmInitFlagDeleteVolatile = 1;  // ptm_init.u.req.init_flags
constexpr size_t kSwtpmHashChunk = 4096;              // sizeof(ptm_hdata.u.req.data)

class SwtpmCtrl {
 public:
  // Connects to host:port (throws TpmError). recv_timeout_ms bounds every reply.
  SwtpmCtrl(const std::string& host, uint16_t port, int recv_timeout_ms = 10000);
  ~SwtpmCtrl();
  SwtpmCtrl(const SwtpmCtrl&) = delete;
  SwtpmCtrl& operator=(const SwtpmCtrl&) = delete;

  // Sends cmd + payload; reads the 4-byte result and then extra_n more bytes into extra
  // (only when the result is 0). Returns the ptm_res; throws TpmError on I/O failure.
  uint32_t command(uint32_t cmd, const void* payload, size_t n, void* extra = nullptr, size_t extra_n = 0);

  // CMD_GET_CAPABILITY is the one command whose reply has no ptm_res: just the uint64 ptm_cap.
  uint64_t get_capability();

  // Like command() but throws TpmError("<what>: swtpm control result 0x..") on a non-zero result.
  void checked(const char* what, uint32_t cmd, const void* payload = nullptr, size_t n = 0);

  // Non-throwing connect probe: true if something listens at host:port.
  static bool reachable(const std::string& host, uint16_t port);

 private:
  void send_all(const uint8_t* p, size_t n);
  void read_exact(uint8_t* p, size_t n);
  int fd_ = -1;
  std::string where_;
};

}  // namespace redoubt::tpm
