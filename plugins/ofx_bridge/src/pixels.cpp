#include "pixels.h"

#include <algorithm>
#include <cstring>

#include "half.h"

namespace vh::ofx {
namespace {

inline float loadSample(const std::uint8_t* p, SampleType type) {
  if (type == SampleType::kFloat32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  std::uint16_t h;
  std::memcpy(&h, p, 2);
  return halfToFloat(h);
}

inline void storeSample(std::uint8_t* p, SampleType type, float value) {
  if (type == SampleType::kFloat32) {
    std::memcpy(p, &value, 4);
  } else {
    const std::uint16_t h = floatToHalf(value);
    std::memcpy(p, &h, 2);
  }
}

// Copy `samples` samples converting between types; a plain memcpy when they agree (the common case).
inline void copySamples(const std::uint8_t* src, SampleType from, std::uint8_t* dst, SampleType to, std::size_t samples) {
  if (from == to) {
    std::memcpy(dst, src, samples * sampleBytes(from));
    return;
  }
  const std::size_t a = sampleBytes(from), b = sampleBytes(to);
  for (std::size_t i = 0; i < samples; ++i) storeSample(dst + i * b, to, loadSample(src + i * a, from));
}

}  // namespace

void packImage(const HostImage& image, SampleType type, std::uint8_t* plane) {
  const int width = image.width(), height = image.height();
  const std::size_t rowOut = std::size_t(width) * 4 * sampleBytes(type);
  parallelFor(height, [&](int begin, int end) {
    for (int r = begin; r < end; ++r) {  // r: packed row from the top; OFX row y counts from the bottom
      const int y = image.bounds().y2 - 1 - r;
      copySamples(image.row(y), image.type(), plane + r * rowOut, type, std::size_t(width) * 4);
    }
  });
}

void packMatte(const HostImage& matte, const OfxRectI& frame, SampleType type, std::uint8_t* plane) {
  const int width = frame.x2 - frame.x1, height = frame.y2 - frame.y1;
  const std::size_t bytes = sampleBytes(type);
  const OfxRectI& m = matte.bounds();
  const int channel = matte.components() - 1;  // alpha is last in RGBA and the only one in Alpha
  const std::size_t step = matte.pixelBytes(), offset = channel * sampleBytes(matte.type());
  parallelFor(height, [&](int begin, int end) {
    for (int r = begin; r < end; ++r) {
      const int y = frame.y2 - 1 - r;
      std::uint8_t* out = plane + std::size_t(r) * width * bytes;
      std::memset(out, 0, std::size_t(width) * bytes);  // 0.0 in both float and half
      if (y < m.y1 || y >= m.y2) continue;
      const int x0 = std::max(frame.x1, m.x1), x1 = std::min(frame.x2, m.x2);
      const std::uint8_t* in = matte.row(y);
      for (int x = x0; x < x1; ++x)
        storeSample(out + std::size_t(x - frame.x1) * bytes, type,
                    loadSample(in + std::size_t(x - m.x1) * step + offset, matte.type()));
    }
  });
}

void unpackImage(const std::uint8_t* plane, const OfxRectI& frame, SampleType type, const HostImage& output,
                 const OfxRectI& window) {
  const OfxRectI& o = output.bounds();
  const OfxRectI w{std::max(window.x1, o.x1), std::max(window.y1, o.y1), std::min(window.x2, o.x2),
                   std::min(window.y2, o.y2)};
  if (w.x1 >= w.x2 || w.y1 >= w.y2) return;
  if (output.components() != 4) throw BridgeError("the Output clip must be RGBA");
  const int frameWidth = frame.x2 - frame.x1;
  const std::size_t inPixel = 4 * sampleBytes(type), outPixel = output.pixelBytes();
  parallelFor(w.y2 - w.y1, [&](int begin, int end) {
    for (int i = begin; i < end; ++i) {
      const int y = w.y1 + i;
      std::uint8_t* out = output.row(y) + std::size_t(w.x1 - o.x1) * outPixel;
      std::memset(out, 0, std::size_t(w.x2 - w.x1) * outPixel);
      if (y < frame.y1 || y >= frame.y2) continue;
      const int x0 = std::max(w.x1, frame.x1), x1 = std::min(w.x2, frame.x2);
      if (x0 >= x1) continue;
      const std::uint8_t* in = plane + (std::size_t(frame.y2 - 1 - y) * frameWidth + (x0 - frame.x1)) * inPixel;
      copySamples(in, type, out + std::size_t(x0 - w.x1) * outPixel, output.type(), std::size_t(x1 - x0) * 4);
    }
  });
}

std::uint64_t fingerprint(const HostImage& image) {
  // FNV-style mixing of 64-bit words with a multiply-rotate step: not cryptographic, but any edit to the
  // pixels changes it with overwhelming probability, and it runs near memory bandwidth.
  constexpr std::uint64_t kPrime = 0x9E3779B97F4A7C15ull;
  auto mix = [](std::uint64_t h, std::uint64_t v) {
    h ^= v * kPrime;
    h = (h << 27) | (h >> 37);
    return h * 0xC2B2AE3D27D4EB4Full;
  };
  std::uint64_t h = 0x84222325CBF29CE4ull;
  const OfxRectI& b = image.bounds();
  for (int v : {b.x1, b.y1, b.x2, b.y2, image.components(), static_cast<int>(image.type())})
    h = mix(h, static_cast<std::uint64_t>(static_cast<std::int64_t>(v)));
  const std::size_t rowBytes = std::size_t(image.width()) * image.pixelBytes();
  for (int y = b.y1; y < b.y2; ++y) {
    const std::uint8_t* row = image.row(y);
    std::size_t i = 0;
    for (; i + 8 <= rowBytes; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, row + i, 8);
      h = mix(h, word);
    }
    for (; i < rowBytes; ++i) h = mix(h, row[i]);
  }
  return h;
}

}  // namespace vh::ofx
