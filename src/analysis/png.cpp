#include "bcp/analysis/png.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace bcp::analysis {

std::string encode_png(const RgbImage& image) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw std::invalid_argument("encode_png: empty or inconsistent image " +
                                std::to_string(image.width) + "x" + std::to_string(image.height));
  std::string out;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                               static_cast<size_t>(size));
  };
  if (!stbi_write_png_to_func(append, &out, image.width, image.height, 3, image.pixels.data(),
                              image.width * 3))
    throw std::runtime_error("encode_png: stb_image_write failed");
  return out;
}

RgbImage decode_png(const std::string& bytes) {
  int w = 0, h = 0, channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> data(
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                            static_cast<int>(bytes.size()), &w, &h, &channels, 3),
      stbi_image_free);
  if (!data)
    throw std::runtime_error(std::string("not a readable image: ") + stbi_failure_reason());
  RgbImage image(w, h);
  std::memcpy(image.pixels.data(), data.get(), image.pixels.size());
  return image;
}

RgbImage hconcat(const std::vector<RgbImage>& images, int gap) {
  if (gap < 0) throw std::invalid_argument("hconcat: gap must be >= 0");
  int width = 0, height = 0, placed = 0;
  for (const auto& im : images) {
    if (im.width <= 0 || im.height <= 0) continue;
    width += im.width + (placed++ ? gap : 0);
    height = std::max(height, im.height);
  }
  RgbImage out(width, height, 255);
  int x0 = 0;
  for (const auto& im : images) {
    if (im.width <= 0 || im.height <= 0) continue;
    for (int y = 0; y < im.height; ++y)
      std::memcpy(out.at(x0, y), im.at(0, y), static_cast<size_t>(im.width) * 3);
    x0 += im.width + gap;
  }
  return out;
}

std::string base64(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v =
        (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s : {18, 12, 6, 0}) out += kAlphabet[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= uint8_t(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace bcp::analysis
