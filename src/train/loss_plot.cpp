#include "train/loss_plot.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/atomic_file.h"
#include "core/error.h"

namespace trellis {

namespace {

struct Rgb {
  uint8_t r, g, b;
};

struct Canvas {
  int w, h;
  std::vector<uint8_t> px;
  Canvas(int w_, int h_) : w(w_), h(h_), px(static_cast<size_t>(w_ * h_ * 3), 255) {}
  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    uint8_t* p = &px[static_cast<size_t>((y * w + x) * 3)];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  void line(int x0, int y0, int x1, int y1, Rgb c, int thick) {  // Bresenham, thickened
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
      for (int a = -thick / 2; a <= thick / 2; ++a)
        for (int b = -thick / 2; b <= thick / 2; ++b) set(x0 + a, y0 + b, c);
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }
};

void png_write_to(png_structp png, png_bytep data, png_size_t n) {
  static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png))->insert(
      static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png))->end(), data, data + n);
}

std::vector<uint8_t> encode_png(const Canvas& c) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) fail("cannot initialise libpng");
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fail("libpng failed to encode the loss plot");
  }
  png_set_write_fn(png, &out, png_write_to, nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(c.w), static_cast<png_uint_32>(c.h), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < c.h; ++y) png_write_row(png, const_cast<png_bytep>(&c.px[static_cast<size_t>(y * c.w * 3)]));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

}  // namespace

void write_loss_plot(const std::string& path, const Curve& train, const Curve& eval, int width, int height) {
  Canvas c(width, height);
  const int left = 40, right = width - 20, top = 20, bottom = height - 30;
  double x_max = 1, y_min = INFINITY, y_max = -INFINITY;
  for (const Curve* cv : {&train, &eval}) {
    for (auto [x, y] : *cv) {
      if (!std::isfinite(y)) continue;
      x_max = std::max(x_max, x);
      y_min = std::min(y_min, y);
      y_max = std::max(y_max, y);
    }
  }
  if (!std::isfinite(y_min)) y_min = 0, y_max = 1;
  if (y_max - y_min < 1e-9) y_max = y_min + 1;
  auto X = [&](double x) { return left + static_cast<int>((right - left) * x / x_max); };
  auto Y = [&](double y) { return bottom - static_cast<int>((bottom - top) * (y - y_min) / (y_max - y_min)); };
  const Rgb grid{225, 225, 225}, axis{80, 80, 80};
  for (int i = 0; i <= 4; ++i) c.line(left, top + (bottom - top) * i / 4, right, top + (bottom - top) * i / 4, grid, 1);
  for (int i = 1; i <= 10; ++i) c.line(left + (right - left) * i / 10, top, left + (right - left) * i / 10, bottom, grid, 1);
  c.line(left, bottom, right, bottom, axis, 1);
  c.line(left, top, left, bottom, axis, 1);
  auto draw = [&](const Curve& cv, Rgb col) {
    for (size_t i = 1; i < cv.size(); ++i) {
      if (!std::isfinite(cv[i - 1].second) || !std::isfinite(cv[i].second)) continue;
      c.line(X(cv[i - 1].first), Y(cv[i - 1].second), X(cv[i].first), Y(cv[i].second), col, 2);
    }
    if (cv.size() == 1) c.line(X(cv[0].first), Y(cv[0].second), X(cv[0].first), Y(cv[0].second), col, 5);
  };
  draw(train, {31, 119, 180});
  draw(eval, {255, 127, 14});
  const auto bytes = encode_png(c);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace trellis
