#include "pixels.h"

#include <algorithm>
#include <cstring>

#include "half.h"

namespace vh::ofx {
namespace {

inline float loadSample(const std::uint8_t* p, Depth depth) {
  switch (depth) {
    case Depth::kFloat: {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    case Depth::kHalf: {
      std::uint16_t h;
      std::memcpy(&h, p, 2);
      return halfToFloat(h);
    }
    case Depth::kShort: {
      std::uint16_t v;
      std::memcpy(&v, p, 2);
      return v * (1.0f / 65535.0f);
    }
    case Depth::kByte:
      return p[0] * (1.0f / 255.0f);
  }
  return 0.0f;
}

// Integer depths clamp to 0..1 (they cannot hold more) and round to nearest; NaN becomes 0.
inline void storeSample(std::uint8_t* p, Depth depth, float value) {
  switch (depth) {
    case Depth::kFloat:
      std::memcpy(p, &value, 4);
      return;
    case Depth::kHalf: {
      const std::uint16_t h = floatToHalf(value);
      std::memcpy(p, &h, 2);
      return;
    }
    case Depth::kShort: {
      const float v = value >= 0.0f ? (value <= 1.0f ? value : 1.0f) : 0.0f;
      const std::uint16_t s = static_cast<std::uint16_t>(v * 65535.0f + 0.5f);
      std::memcpy(p, &s, 2);
      return;
    }
    case Depth::kByte: {
      const float v = value >= 0.0f ? (value <= 1.0f ? value : 1.0f) : 0.0f;
      p[0] = static_cast<std::uint8_t>(v * 255.0f + 0.5f);
      return;
    }
  }
}

// Copy `pixels` pixels from `fromComps` to `toComps` components (4, 3 or 1), converting depths. RGBA -> RGB drops
// alpha, RGB -> RGBA adds an opaque alpha; a plain memcpy when layouts agree (the common case).
inline void copyPixels(const std::uint8_t* src, Depth from, int fromComps, std::uint8_t* dst, Depth to, int toComps,
                       std::size_t pixels) {
  if (from == to && fromComps == toComps) {
    std::memcpy(dst, src, pixels * fromComps * depthBytes(from));
    return;
  }
  const std::size_t a = depthBytes(from), b = depthBytes(to);
  const int shared = std::min(fromComps, toComps);
  for (std::size_t i = 0; i < pixels; ++i) {
    const std::uint8_t* in = src + i * fromComps * a;
    std::uint8_t* out = dst + i * toComps * b;
    for (int c = 0; c < shared; ++c) storeSample(out + c * b, to, loadSample(in + c * a, from));
    for (int c = shared; c < toComps; ++c) storeSample(out + c * b, to, 1.0f);
  }
}

}  // namespace

void packImage(const HostImage& image, SampleType type, std::uint8_t* plane) {
  const int width = image.width(), height = image.height();
  const std::size_t rowOut = std::size_t(width) * 4 * sampleBytes(type);
  parallelFor(height, [&](int begin, int end) {
    for (int r = begin; r < end; ++r) {  // r: packed row from the top; OFX row y counts from the bottom
      const int y = image.bounds().y2 - 1 - r;
      copyPixels(image.row(y), image.depth(), image.components(), plane + r * rowOut, depthOf(type), 4,
                 std::size_t(width));
    }
  });
}

void packMatte(const HostImage& matte, const OfxRectI& frame, SampleType type, std::uint8_t* plane) {
  const int width = frame.x2 - frame.x1, height = frame.y2 - frame.y1;
  const std::size_t bytes = sampleBytes(type);
  const OfxRectI& m = matte.bounds();
  // Alpha is last in RGBA and the only one in Alpha; an RGB matte (no alpha) is read from its first channel.
  const int channel = matte.components() == 3 ? 0 : matte.components() - 1;
  const std::size_t step = matte.pixelBytes(), offset = channel * depthBytes(matte.depth());
  parallelFor(height, [&](int begin, int end) {
    for (int r = begin; r < end; ++r) {
      const int y = frame.y2 - 1 - r;
      std::uint8_t* out = plane + std::size_t(r) * width * bytes;
      std::memset(out, 0, std::size_t(width) * bytes);  // 0.0 in both float and half
      if (y < m.y1 || y >= m.y2) continue;
      const int x0 = std::max(frame.x1, m.x1), x1 = std::min(frame.x2, m.x2);
      const std::uint8_t* in = matte.row(y);
      for (int x = x0; x < x1; ++x)
        storeSample(out + std::size_t(x - frame.x1) * bytes, depthOf(type),
                    loadSample(in + std::size_t(x - m.x1) * step + offset, matte.depth()));
    }
  });
}

void unpackImage(const std::uint8_t* plane, const OfxRectI& frame, SampleType type, const HostImage& output,
                 const OfxRectI& window) {
  const OfxRectI& o = output.bounds();
  const OfxRectI w{std::max(window.x1, o.x1), std::max(window.y1, o.y1), std::min(window.x2, o.x2),
                   std::min(window.y2, o.y2)};
  if (w.x1 >= w.x2 || w.y1 >= w.y2) return;
  if (output.components() < 3) throw BridgeError("the Output clip must be RGBA or RGB");
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
      copyPixels(in, depthOf(type), 4, out + std::size_t(x0 - w.x1) * outPixel, output.depth(), output.components(),
                 std::size_t(x1 - x0));
    }
  });
}

void copyImage(const HostImage& from, const HostImage& to, const OfxRectI& window) {
  const OfxRectI& a = from.bounds();
  const OfxRectI& o = to.bounds();
  const OfxRectI w{std::max(window.x1, o.x1), std::max(window.y1, o.y1), std::min(window.x2, o.x2),
                   std::min(window.y2, o.y2)};
  if (w.x1 >= w.x2 || w.y1 >= w.y2) return;
  const std::size_t inPixel = from.pixelBytes(), outPixel = to.pixelBytes();
  const int x0 = std::max(w.x1, a.x1), x1 = std::min(w.x2, a.x2);
  parallelFor(w.y2 - w.y1, [&](int begin, int end) {
    for (int i = begin; i < end; ++i) {
      const int y = w.y1 + i;
      std::uint8_t* out = to.row(y) + std::size_t(w.x1 - o.x1) * outPixel;
      std::memset(out, 0, std::size_t(w.x2 - w.x1) * outPixel);
      if (y < a.y1 || y >= a.y2 || x0 >= x1) continue;
      copyPixels(from.row(y) + std::size_t(x0 - a.x1) * inPixel, from.depth(), from.components(),
                 out + std::size_t(x0 - w.x1) * outPixel, to.depth(), to.components(), std::size_t(x1 - x0));
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
  for (int v : {b.x1, b.y1, b.x2, b.y2, image.components(), static_cast<int>(image.depth())})
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
