// libFuzzer target for the safetensors reader: any input must either parse or throw
// trellis::Error. On success all metadata and every tensor byte is touched so ASan
// reports any view that points outside the input. Run via scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = trellis::SafetensorsFile::parse(data, size, "fuzz.safetensors");
    uint64_t sum = 0;
    for (const auto& [k, v] : f->metadata()) sum += k.size() + v.size();
    for (const auto& t : f->tensors()) {
      if (f->find_tensor(t.name) != &t) __builtin_trap();
      if (t.data < data || t.data + t.nbytes > data + size) __builtin_trap();
      if (static_cast<size_t>(t.n_elements()) * trellis::dtype_info(t.type).block_bytes != t.nbytes) __builtin_trap();
      for (size_t i = 0; i < t.nbytes; ++i) sum += t.data[i];
    }
    volatile uint64_t sink = sum;
    (void)sink;
  } catch (const trellis::Error&) {
  }
  return 0;
}
