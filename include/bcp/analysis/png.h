// RGB images in memory and their PNG form (stb_image_write / stb_image from Debian's libstb),
// and base64, to embed images in a self-contained HTML page.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace bcp::analysis {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  ///< row-major, 3 bytes per pixel

  RgbImage() = default;
  RgbImage(int w, int h, uint8_t fill = 0)
      : width(w), height(h), pixels(static_cast<size_t>(w) * h * 3, fill) {}
  uint8_t* at(int x, int y) { return &pixels[(static_cast<size_t>(y) * width + x) * 3]; }
  const uint8_t* at(int x, int y) const {
    return &pixels[(static_cast<size_t>(y) * width + x) * 3];
  }
};

/// PNG bytes of `image`. Throws std::invalid_argument for an empty or inconsistent image.
std::string encode_png(const RgbImage& image);
/// Decodes PNG (or any format stb_image reads) bytes to RGB; throws std::runtime_error on bad data.
RgbImage decode_png(const std::string& bytes);
/// Images side by side (top-aligned) with `gap` white pixels between them.
RgbImage hconcat(const std::vector<RgbImage>& images, int gap = 4);
/// Standard base64 (RFC 4648, with padding), for data: URIs.
std::string base64(const std::string& bytes);

}  // namespace bcp::analysis
