#include "core/dtype.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "core/error.h"

namespace trellis {
namespace {

constexpr uint32_t kMaxId = 31;

constexpr std::array<DTypeInfo, kMaxId> make_table() {
  std::array<DTypeInfo, kMaxId> t{};
  for (auto& e : t) e = {nullptr, 0, 0, false};
  t[0] = {"F32", 1, 4, true};
  t[1] = {"F16", 1, 2, true};
  t[2] = {"Q4_0", 32, 18, true};
  t[3] = {"Q4_1", 32, 20, true};
  t[6] = {"Q5_0", 32, 22, true};
  t[7] = {"Q5_1", 32, 24, true};
  t[8] = {"Q8_0", 32, 34, true};
  t[9] = {"Q8_1", 32, 36, false};
  t[10] = {"Q2_K", 256, 84, false};
  t[11] = {"Q3_K", 256, 110, false};
  t[12] = {"Q4_K", 256, 144, true};
  t[13] = {"Q5_K", 256, 176, true};
  t[14] = {"Q6_K", 256, 210, true};
  t[15] = {"Q8_K", 256, 292, false};
  t[16] = {"IQ2_XXS", 256, 66, false};
  t[17] = {"IQ2_XS", 256, 74, false};
  t[18] = {"IQ3_XXS", 256, 98, false};
  t[19] = {"IQ1_S", 256, 50, false};
  t[20] = {"IQ4_NL", 32, 18, true};
  t[21] = {"IQ3_S", 256, 110, false};
  t[22] = {"IQ2_S", 256, 82, false};
  t[23] = {"IQ4_XS", 256, 136, false};
  t[24] = {"I8", 1, 1, false};
  t[25] = {"I16", 1, 2, false};
  t[26] = {"I32", 1, 4, false};
  t[27] = {"I64", 1, 8, false};
  t[28] = {"F64", 1, 8, false};
  t[29] = {"IQ1_M", 256, 56, false};
  t[30] = {"BF16", 1, 2, true};
  return t;
}

constexpr auto kTable = make_table();

}  // namespace

const DTypeInfo* dtype_info_or_null(uint32_t id) {
  if (id >= kMaxId || kTable[id].name == nullptr) return nullptr;
  return &kTable[id];
}

const DTypeInfo& dtype_info(DType t) {
  const DTypeInfo* info = dtype_info_or_null(static_cast<uint32_t>(t));
  if (!info) fail("unknown tensor type id ", static_cast<uint32_t>(t));
  return *info;
}

DType dtype_from_name(const std::string& name) {
  std::string upper = name;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  for (uint32_t id = 0; id < kMaxId; ++id) {
    if (kTable[id].name && upper == kTable[id].name) return static_cast<DType>(id);
  }
  fail("unknown tensor type '", name, "'");
}

size_t row_bytes(DType t, int64_t n) {
  const DTypeInfo& info = dtype_info(t);
  if (n < 0 || n % info.block_elems != 0) {
    fail("row of ", n, " elements is not a multiple of the ", info.name, " block size ", info.block_elems);
  }
  return static_cast<size_t>(n / info.block_elems * info.block_bytes);
}

}  // namespace trellis
