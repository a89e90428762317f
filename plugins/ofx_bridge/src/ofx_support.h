// Host services the plugin uses, fetched once at load, and RAII wrappers over the host-owned resources
// (images from clipGetImage, memory from the memory suite) so that every exit path releases them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "harmonize_client.h"
#include "vh_ofx_api.h"

namespace vh::ofx {

struct HostSuites {
  OfxHost* host = nullptr;
  const OfxPropertySuiteV1* prop = nullptr;
  const OfxParameterSuiteV1* param = nullptr;
  const OfxImageEffectSuiteV1* effect = nullptr;
  const OfxMemorySuiteV1* memory = nullptr;
  const OfxMessageSuiteV2* message2 = nullptr;  // persistent messages; preferred
  const OfxMessageSuiteV1* message1 = nullptr;  // fallback for hosts without V2
  const OfxMultiThreadSuiteV1* thread = nullptr;  // optional: without it pixel loops run on the render thread
  // The host's kOfxImageEffectPropTemporalClipAccess. Hosts without it (MLT, most editors) give one frame per
  // render and answer clipGetImage with that frame whatever the time asked: each frame is then its own window.
  bool temporal = true;
};

// Pixel depths a host may hand over. Byte and short are normalised to 0..1 on the wire (float32); half travels
// as float16 and float as float32, unchanged.
enum class Depth { kByte, kShort, kHalf, kFloat };
inline std::size_t depthBytes(Depth d) { return d == Depth::kByte ? 1 : (d == Depth::kFloat ? 4 : 2); }
inline SampleType wireType(Depth d) { return d == Depth::kHalf ? SampleType::kFloat16 : SampleType::kFloat32; }
inline Depth depthOf(SampleType t) { return t == SampleType::kFloat16 ? Depth::kHalf : Depth::kFloat; }

// The suites of the current host (set by kOfxActionLoad, cleared by kOfxActionUnload).
HostSuites& suites();

// Property helpers that throw BridgeError naming the property, so a host omission reads as a sentence.
int getInt(OfxPropertySetHandle props, const char* name, int index = 0);
double getDouble(OfxPropertySetHandle props, const char* name, int index = 0);
// Optional properties: `fallback` when the host does not provide them (hosts differ in what they set).
int getIntOr(OfxPropertySetHandle props, const char* name, int index, int fallback);
bool getDoubleIf(OfxPropertySetHandle props, const char* name, int index, double* value);
std::string getString(OfxPropertySetHandle props, const char* name, int index = 0);
void* getPointer(OfxPropertySetHandle props, const char* name, int index = 0);

// An image fetched from a clip; released on destruction. Validates depth, components, bounds and row bytes.
class HostImage {
 public:
  // Throws BridgeError if the host has no image at `time` or describes one the bridge cannot read.
  HostImage(OfxImageClipHandle clip, const char* clipName, double time);
  ~HostImage();
  HostImage(const HostImage&) = delete;
  HostImage& operator=(const HostImage&) = delete;

  const OfxRectI& bounds() const { return bounds_; }
  int width() const { return bounds_.x2 - bounds_.x1; }
  int height() const { return bounds_.y2 - bounds_.y1; }
  int components() const { return components_; }  // 4 (RGBA), 3 (RGB) or 1 (Alpha)
  Depth depth() const { return depth_; }
  SampleType type() const { return wireType(depth_); }  // the sample type this image travels as
  std::size_t pixelBytes() const { return components_ * depthBytes(depth_); }
  // Start of image row y (canonical, y1 <= y < y2; OFX rows go bottom-up). Row bytes may be negative.
  std::uint8_t* row(int y) const { return data_ + std::ptrdiff_t(y - bounds_.y1) * rowBytes_; }

 private:
  OfxPropertySetHandle handle_ = nullptr;
  std::uint8_t* data_ = nullptr;
  OfxRectI bounds_{};
  int rowBytes_ = 0;
  int components_ = 0;
  Depth depth_ = Depth::kFloat;
};

// A block of host memory (memory suite) owned by one instance; freed on destruction.
class HostBuffer {
 public:
  HostBuffer() = default;
  HostBuffer(OfxImageEffectHandle effect, std::size_t bytes);  // throws BridgeError when the host refuses
  ~HostBuffer();
  HostBuffer(HostBuffer&& other) noexcept;
  HostBuffer& operator=(HostBuffer&& other) noexcept;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  std::uint8_t* data() const { return data_; }
  std::size_t size() const { return bytes_; }

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// Run body(begin, end) over [0, count) split across the host's threads (or inline when it has no thread suite).
void parallelFor(int count, const std::function<void(int begin, int end)>& body);

}  // namespace vh::ofx
