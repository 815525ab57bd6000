// libFuzzer target for the GGUF reader: any input must either parse or throw
// trellis::Error. On success every metadata value and every tensor byte is touched so
// ASan reports any view that points outside the input. Run via scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "formats/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto f = trellis::GgufFile::parse(data, size, "fuzz.gguf");
    uint64_t sum = f->version() + f->alignment() + f->data_offset();
    for (const auto& key : f->key_order()) {
      const trellis::GgufValue* v = f->find(key);
      if (!v) __builtin_trap();  // key_order and metadata disagree
      sum += trellis::gguf_value_to_string(*v, 64).size();
    }
    for (const auto& t : f->tensors()) {
      if (f->find_tensor(t.view.name) != &t.view) __builtin_trap();
      if (t.view.data < data || t.view.data + t.view.nbytes > data + size) __builtin_trap();
      for (size_t i = 0; i < t.view.nbytes; ++i) sum += t.view.data[i];
      sum += static_cast<uint64_t>(t.view.row_stride());
    }
    volatile uint64_t sink = sum;
    (void)sink;
  } catch (const trellis::Error&) {
  }
  return 0;
}
