#include "ofx_support.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace vh::ofx {

HostSuites& suites() {
  static HostSuites instance;
  return instance;
}

namespace {

void check(OfxStatus status, const char* what, const char* name) {
  if (status != kOfxStatOK)
    throw BridgeError(std::string("host did not provide ") + what + " property " + name + " (status " +
                      std::to_string(status) + ")");
}

}  // namespace

int getInt(OfxPropertySetHandle props, const char* name, int index) {
  int value = 0;
  check(suites().prop->propGetInt(props, name, index, &value), "int", name);
  return value;
}

double getDouble(OfxPropertySetHandle props, const char* name, int index) {
  double value = 0;
  check(suites().prop->propGetDouble(props, name, index, &value), "double", name);
  return value;
}

int getIntOr(OfxPropertySetHandle props, const char* name, int index, int fallback) {
  int value = 0;
  return props && suites().prop->propGetInt(props, name, index, &value) == kOfxStatOK ? value : fallback;
}

bool getDoubleIf(OfxPropertySetHandle props, const char* name, int index, double* value) {
  return props && suites().prop->propGetDouble(props, name, index, value) == kOfxStatOK;
}

std::string getString(OfxPropertySetHandle props, const char* name, int index) {
  char* value = nullptr;
  check(suites().prop->propGetString(props, name, index, &value), "string", name);
  return value ? value : "";
}

void* getPointer(OfxPropertySetHandle props, const char* name, int index) {
  void* value = nullptr;
  check(suites().prop->propGetPointer(props, name, index, &value), "pointer", name);
  return value;
}

HostImage::HostImage(OfxImageClipHandle clip, const char* clipName, double time) {
  const std::string where = std::string(clipName) + " frame " + std::to_string(static_cast<long long>(time));
  if (suites().effect->clipGetImage(clip, time, nullptr, &handle_) != kOfxStatOK || !handle_) {
    handle_ = nullptr;
    throw BridgeError("the host has no image for " + where);
  }
  // From here on the destructor does not run if we throw, so release by hand on every error.
  try {
    data_ = static_cast<std::uint8_t*>(getPointer(handle_, kOfxImagePropData));
    rowBytes_ = getInt(handle_, kOfxImagePropRowBytes);
    bounds_ = {getInt(handle_, kOfxImagePropBounds, 0), getInt(handle_, kOfxImagePropBounds, 1),
               getInt(handle_, kOfxImagePropBounds, 2), getInt(handle_, kOfxImagePropBounds, 3)};
    const std::string depth = getString(handle_, kOfxImageEffectPropPixelDepth);
    const std::string comps = getString(handle_, kOfxImageEffectPropComponents);
    if (depth == kOfxBitDepthFloat) depth_ = Depth::kFloat;
    else if (depth == kOfxBitDepthHalf) depth_ = Depth::kHalf;
    else if (depth == kOfxBitDepthShort) depth_ = Depth::kShort;
    else if (depth == kOfxBitDepthByte) depth_ = Depth::kByte;
    else throw BridgeError(where + " has pixel depth " + depth + "; VHMAE Harmonize reads float, half, short or byte");
    if (comps == kOfxImageComponentRGBA) components_ = 4;
    else if (comps == kOfxImageComponentRGB) components_ = 3;
    else if (comps == kOfxImageComponentAlpha) components_ = 1;
    else throw BridgeError(where + " has components " + comps + "; VHMAE Harmonize reads RGBA, RGB or Alpha");
    if (!data_ || width() <= 0 || height() <= 0) throw BridgeError(where + " is empty");
    // Rows may be padded (|rowBytes| > width * pixel) or stored top-down (negative rowBytes); never shorter.
    if (static_cast<std::size_t>(std::abs(rowBytes_)) < std::size_t(width()) * pixelBytes())
      throw BridgeError(where + " has row bytes " + std::to_string(rowBytes_) + " < width " +
                        std::to_string(width()) + " x " + std::to_string(pixelBytes()) + " bytes per pixel");
  } catch (...) {
    suites().effect->clipReleaseImage(handle_);
    throw;
  }
}

HostImage::~HostImage() {
  if (handle_) suites().effect->clipReleaseImage(handle_);
}

HostBuffer::HostBuffer(OfxImageEffectHandle effect, std::size_t bytes) : bytes_(bytes) {
  void* data = nullptr;
  if (suites().memory->memoryAlloc(effect, bytes, &data) != kOfxStatOK || !data)
    throw BridgeError("the host could not allocate " + std::to_string(bytes >> 20) + " MiB for VHMAE Harmonize");
  data_ = static_cast<std::uint8_t*>(data);
}

HostBuffer::~HostBuffer() {
  if (data_) suites().memory->memoryFree(data_);
}

HostBuffer::HostBuffer(HostBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

HostBuffer& HostBuffer::operator=(HostBuffer&& other) noexcept {
  if (this != &other) {
    if (data_) suites().memory->memoryFree(data_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

namespace {

struct ParallelJob {
  int count;
  const std::function<void(int, int)>* body;
};

void runSlice(unsigned int index, unsigned int total, void* arg) {
  const auto* job = static_cast<const ParallelJob*>(arg);
  const int begin = static_cast<int>(std::int64_t(job->count) * index / total);
  const int end = static_cast<int>(std::int64_t(job->count) * (index + 1) / total);
  try {
    if (begin < end) (*job->body)(begin, end);
  } catch (...) {
    // Pixel loops do not throw; an exception must never unwind into the host's thread pool.
  }
}

}  // namespace

void parallelFor(int count, const std::function<void(int, int)>& body) {
  if (count <= 0) return;
  const OfxMultiThreadSuiteV1* thread = suites().thread;
  unsigned int cpus = 1;
  // Below a few rows threading costs more than it saves; inside a host worker, nesting is not allowed.
  if (!thread || count < 64 || thread->multiThreadIsSpawnedThread() ||
      thread->multiThreadNumCPUs(&cpus) != kOfxStatOK || cpus <= 1) {
    body(0, count);
    return;
  }
  ParallelJob job{count, &body};
  const unsigned int slices = std::min<unsigned int>(cpus, static_cast<unsigned int>(count));
  if (thread->multiThread(runSlice, slices, &job) != kOfxStatOK) body(0, count);
}

}  // namespace vh::ofx
