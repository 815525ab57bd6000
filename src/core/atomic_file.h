// Crash-safe file output: bytes go to a temporary file next to the target, which is
// fsync'ed and renamed over the target only when complete. A reader (or a crash) sees
// either the old file or the whole new one, never a half-written one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace trellis {

class AtomicFile {
 public:
  // Creates "<path>.tmp.<pid>.<n>" in the target's directory. Throws Error naming path.
  explicit AtomicFile(const std::string& path);
  // Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write_zeros(size_t n);
  // Bytes written so far.
  uint64_t size() const { return written_; }
  // Flushes, fsyncs, renames over the target and fsyncs the directory.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_; }

 private:
  void flush();

  std::string path_;
  std::string tmp_;
  int fd_ = -1;
  bool committed_ = false;
  uint64_t written_ = 0;
  std::vector<uint8_t> buf_;
  size_t used_ = 0;
};

// Writes one buffer atomically.
void write_file_atomic(const std::string& path, const void* data, size_t n);

// Where a writer gets a tensor's bytes at write time: a borrowed pointer, an owned copy,
// or a callback that fills a buffer of exactly nbytes (e.g. quantizing on the fly).
struct TensorBytes {
  using Producer = std::function<void(uint8_t* dst, size_t nbytes)>;
  const void* borrowed = nullptr;
  std::vector<uint8_t> owned;
  Producer produce;

  // Appends nbytes to out; `scratch` is reused between calls for generated tensors.
  void write_to(AtomicFile& out, size_t nbytes, std::vector<uint8_t>& scratch) const;
};

}  // namespace trellis
