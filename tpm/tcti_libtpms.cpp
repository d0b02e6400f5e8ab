#include "tpm/tcti_libtpms.hpp"

#include <fcntl.h>
#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "tpm/tpm_device.hpp"

namespace redoubt::tpm {

// tpm2-tss's own TCTIs use a per-TCTI magic; this is ours ("RDLIBTPM").
constexpr uint64_t kMagic = 0x52444c494254504dULL;

struct LibtpmsTcti::Ctx {
  TSS2_TCTI_CONTEXT_COMMON_V2 common;  // must be first: ESAPI casts the pointer
  enum class State { transmit, receive } state;
  uint8_t locality;
  unsigned char* resp;  // malloc'd by / reused across TPMLIB_Process
  uint32_t resp_len;
  uint32_t resp_cap;
  unsigned char cmd[8192];  // TPMLIB_Process takes a non-const command buffer
};

namespace {

std::mutex g_mu;                   // guards the claim below
LibtpmsTcti* g_live = nullptr;     // the one live instance
std::string g_state_dir;           // read by the NV callbacks

std::string nv_path(uint32_t tpm_number, const char* name) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "tpm2-%02u.", tpm_number);
  return g_state_dir + "/" + buf + name;
}

TPM_RESULT cb_nvram_init() { return TPM_SUCCESS; }

// Returns TPM_RETRY when the blob does not exist, so libtpms manufactures the TPM.
TPM_RESULT cb_nvram_load(unsigned char** data, uint32_t* length, uint32_t tpm_number,
                         const char* name) {
  *data = nullptr;
  *length = 0;
  const std::string path = nv_path(tpm_number, name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? TPM_RETRY : TPM_FAIL;
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (64 << 20)) {
    ::close(fd);
    return TPM_FAIL;
  }
  auto* buf = static_cast<unsigned char*>(std::malloc(st.st_size));  // freed by libtpms
  if (!buf) {
    ::close(fd);
    return TPM_FAIL;
  }
  size_t got = 0;
  while (got < static_cast<size_t>(st.st_size)) {
    ssize_t r = ::read(fd, buf + got, st.st_size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      std::free(buf);
      ::close(fd);
      return TPM_FAIL;
    }
    got += r;
  }
  ::close(fd);
  *data = buf;
  *length = static_cast<uint32_t>(got);
  return TPM_SUCCESS;
}

// Write to a temporary file, fsync and rename, so a crash never leaves a torn NV
// blob nor loses an NV write the TPM already acknowledged (an anti-rollback
// counter increment that vanished would be a rollback; docs/tpm-state.md).
TPM_RESULT cb_nvram_store(const unsigned char* data, uint32_t length, uint32_t tpm_number,
                          const char* name) {
  const std::string path = nv_path(tpm_number, name);
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return TPM_FAIL;
  size_t put = 0;
  while (put < length) {
    ssize_t w = ::write(fd, data + put, length - put);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return TPM_FAIL;
    }
    put += w;
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return TPM_FAIL;
  }
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return TPM_FAIL;
  }
  if (int dfd = ::open(g_state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    const bool synced = ::fsync(dfd) == 0 || errno == EINVAL;  // EINVAL: no directory sync on this file system
    ::close(dfd);
    if (!synced) return TPM_FAIL;
  }
  return TPM_SUCCESS;
}

TPM_RESULT cb_nvram_delete(uint32_t tpm_number, const char* name, TPM_BOOL must_exist) {
  const std::string path = nv_path(tpm_number, name);
  if (::unlink(path.c_str()) == 0) return TPM_SUCCESS;
  return (errno == ENOENT && !must_exist) ? TPM_SUCCESS : TPM_FAIL;
}

TPM_RESULT cb_io_init() { return TPM_SUCCESS; }

// libtpms asks for the locality of every command here.
TPM_RESULT cb_io_getlocality(TPM_MODIFIER_INDICATOR* loc, uint32_t) {
  *loc = g_live ? g_live->locality() : 0;
  return TPM_SUCCESS;
}

TPM_RESULT cb_io_getphysicalpresence(TPM_BOOL* pp, uint32_t) {
  *pp = 0;
  return TPM_SUCCESS;
}

LibtpmsTcti::Ctx* cast(TSS2_TCTI_CONTEXT* c) {
  auto* ctx = reinterpret_cast<LibtpmsTcti::Ctx*>(c);
  return (ctx && ctx->common.v1.magic == kMagic) ? ctx : nullptr;
}

TSS2_RC tcti_transmit(TSS2_TCTI_CONTEXT* c, size_t size, const uint8_t* command) {
  auto* ctx = cast(c);
  if (!ctx) return TSS2_TCTI_RC_BAD_CONTEXT;
  if (!command) return TSS2_TCTI_RC_BAD_REFERENCE;
  if (ctx->state != LibtpmsTcti::Ctx::State::transmit) return TSS2_TCTI_RC_BAD_SEQUENCE;
  if (size < 10 || size > sizeof ctx->cmd) return TSS2_TCTI_RC_BAD_VALUE;
  std::memcpy(ctx->cmd, command, size);
  ctx->resp_len = 0;
  TPM_RESULT r = TPMLIB_Process(&ctx->resp, &ctx->resp_len, &ctx->resp_cap, ctx->cmd,
                                static_cast<uint32_t>(size));
  if (r != TPM_SUCCESS || ctx->resp_len < 10) return TSS2_TCTI_RC_IO_ERROR;
  ctx->state = LibtpmsTcti::Ctx::State::receive;
  return TSS2_RC_SUCCESS;
}

TSS2_RC tcti_receive(TSS2_TCTI_CONTEXT* c, size_t* size, uint8_t* response, int32_t) {
  auto* ctx = cast(c);
  if (!ctx) return TSS2_TCTI_RC_BAD_CONTEXT;
  if (!size) return TSS2_TCTI_RC_BAD_REFERENCE;
  if (ctx->state != LibtpmsTcti::Ctx::State::receive) return TSS2_TCTI_RC_BAD_SEQUENCE;
  if (!response) {  // size query
    *size = ctx->resp_len;
    return TSS2_RC_SUCCESS;
  }
  if (*size < ctx->resp_len) {
    *size = ctx->resp_len;
    return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
  }
  std::memcpy(response, ctx->resp, ctx->resp_len);
  *size = ctx->resp_len;
  ctx->state = LibtpmsTcti::Ctx::State::transmit;
  return TSS2_RC_SUCCESS;
}

// The owner (LibtpmsTcti) frees the context; ESAPI's Esys_Finalize does not call this.
void tcti_finalize(TSS2_TCTI_CONTEXT*) {}

TSS2_RC tcti_cancel(TSS2_TCTI_CONTEXT*) { return TSS2_TCTI_RC_NOT_IMPLEMENTED; }

TSS2_RC tcti_get_poll_handles(TSS2_TCTI_CONTEXT*, TSS2_TCTI_POLL_HANDLE*, size_t*) {
  return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

TSS2_RC tcti_set_locality(TSS2_TCTI_CONTEXT* c, uint8_t locality) {
  auto* ctx = cast(c);
  if (!ctx) return TSS2_TCTI_RC_BAD_CONTEXT;
  if (ctx->state != LibtpmsTcti::Ctx::State::transmit) return TSS2_TCTI_RC_BAD_SEQUENCE;
  if (locality > 4) return TSS2_TCTI_RC_BAD_VALUE;
  ctx->locality = locality;
  return TSS2_RC_SUCCESS;
}

TSS2_RC tcti_make_sticky(TSS2_TCTI_CONTEXT*, TPM2_HANDLE*, uint8_t) {
  return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

}  // namespace

LibtpmsTcti::LibtpmsTcti(const std::string& state_dir) : ctx_(nullptr), state_dir_(state_dir) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_live) {
    throw TpmError("inproc TPM: libtpms holds one TPM per process and one is already open (state " +
                   g_state_dir + "); close it before opening another");
  }
  ctx_ = new Ctx{};
  ctx_->common.v1.magic = kMagic;
  ctx_->common.v1.version = 2;
  ctx_->common.v1.transmit = tcti_transmit;
  ctx_->common.v1.receive = tcti_receive;
  ctx_->common.v1.finalize = tcti_finalize;
  ctx_->common.v1.cancel = tcti_cancel;
  ctx_->common.v1.getPollHandles = tcti_get_poll_handles;
  ctx_->common.v1.setLocality = tcti_set_locality;
  ctx_->common.makeSticky = tcti_make_sticky;
  ctx_->state = Ctx::State::transmit;
  g_state_dir = state_dir;
  g_live = this;
  try {
    start();
  } catch (...) {
    g_live = nullptr;
    delete ctx_;
    throw;
  }
}

void LibtpmsTcti::start() {
  static libtpms_callbacks cbs = {
      sizeof(libtpms_callbacks), cb_nvram_init,      cb_nvram_load,
      cb_nvram_store,            cb_nvram_delete,    cb_io_init,
      cb_io_getlocality,         cb_io_getphysicalpresence,
  };
  TPM_RESULT r = TPMLIB_ChooseTPMVersion(TPMLIB_TPM_VERSION_2);
  if (r == TPM_SUCCESS) r = TPMLIB_RegisterCallbacks(&cbs);
  if (r != TPM_SUCCESS) throw TpmError("inproc TPM: libtpms setup failed", r);
  r = TPMLIB_MainInit();
  if (r != TPM_SUCCESS) {
    throw TpmError("inproc TPM: TPMLIB_MainInit failed (state dir " + state_dir_ + ")", r);
  }
}

LibtpmsTcti::~LibtpmsTcti() {
  std::lock_guard<std::mutex> lock(g_mu);
  TPMLIB_Terminate();
  std::free(ctx_->resp);
  delete ctx_;
  g_live = nullptr;
}

TSS2_TCTI_CONTEXT* LibtpmsTcti::context() { return reinterpret_cast<TSS2_TCTI_CONTEXT*>(ctx_); }

void LibtpmsTcti::reset() {
  TPMLIB_Terminate();
  ctx_->state = Ctx::State::transmit;
  ctx_->locality = 0;
  start();
}

uint8_t LibtpmsTcti::locality() const { return ctx_->locality; }

}  // namespace redoubt::tpm
