#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace trellis {
namespace {

constexpr size_t kBufferBytes = 1 << 20;

std::string errno_text() { return std::strerror(errno); }

// Opens a fresh temporary file beside `path` (same filesystem, so rename is atomic).
int open_temp(const std::string& path, std::string& tmp) {
  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    tmp = cat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST) fail(path, ": cannot create temporary file ", tmp, ": ", errno_text());
  }
  fail(path, ": cannot find a free temporary file name");
}

void fsync_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename itself already happened
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  fd_ = open_temp(path, tmp_);
  buf_.resize(kBufferBytes);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::flush() {
  size_t off = 0;
  while (off < used_) {
    const ssize_t n = ::write(fd_, buf_.data() + off, used_ - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(path_, ": write failed: ", errno_text());
    }
    off += static_cast<size_t>(n);
  }
  used_ = 0;
}

void AtomicFile::write(const void* data, size_t n) {
  if (committed_) fail(path_, ": write after commit");
  const auto* p = static_cast<const uint8_t*>(data);
  written_ += n;
  while (n > 0) {
    const size_t k = std::min(n, buf_.size() - used_);
    std::memcpy(buf_.data() + used_, p, k);
    used_ += k;
    p += k;
    n -= k;
    if (used_ == buf_.size()) flush();
  }
}

void AtomicFile::write_zeros(size_t n) {
  static const uint8_t zeros[256] = {};
  while (n > 0) {
    const size_t k = std::min(n, sizeof(zeros));
    write(zeros, k);
    n -= k;
  }
}

void AtomicFile::commit() {
  if (committed_) return;
  flush();
  if (::fsync(fd_) != 0) fail(path_, ": fsync failed: ", errno_text());
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail(path_, ": close failed: ", errno_text());
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail(path_, ": cannot rename ", tmp_, " into place: ", errno_text());
  committed_ = true;
  fsync_dir(path_);
}

void write_file_atomic(const std::string& path, const void* data, size_t n) {
  AtomicFile f(path);
  f.write(data, n);
  f.commit();
}

void TensorBytes::write_to(AtomicFile& out, size_t nbytes, std::vector<uint8_t>& scratch) const {
  if (produce) {
    scratch.assign(nbytes, 0);
    produce(scratch.data(), nbytes);
    out.write(scratch.data(), nbytes);
  } else if (borrowed) {
    out.write(borrowed, nbytes);
  } else {
    if (owned.size() != nbytes) fail(out.path(), ": tensor buffer holds ", owned.size(), " bytes, expected ", nbytes);
    out.write(owned.data(), nbytes);
  }
}

}  // namespace trellis
