// A blocking client of vh-server's Harmonize service, with no OpenFX knowledge: frames in (HWC, top-left origin,
// float16/float32 bytes, exactly the proto's FRAME CONTRACT), harmonized frames out. The plugin owns windows,
// caching and host images; this class owns the channel, GetInfo, option typing, chunking and error wording.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "harmonize.grpc.pb.h"

namespace vh::ofx {

// An expected failure whose what() is one line a compositor can act on (shown as the node's error).
class BridgeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class SampleType { kFloat16, kFloat32 };

inline std::size_t sampleBytes(SampleType t) { return t == SampleType::kFloat16 ? 2 : 4; }

// Everything that shapes one Harmonize stream except the pixels.
struct StreamSettings {
  std::string model;        // empty = the server's default model
  std::string options;      // "name=value, name=value", typed by the model's OptionSpec kinds
  float strength = 1.0f;    // 0..1
  std::string colorspace;   // OCIO colourspace or role of the pixels, e.g. "scene_linear"
  std::string ocioConfig;   // empty = the server's default config
  std::int64_t firstFrame = 0;  // host frame number of the first frame sent (server logs only)
};

// One frame's planes, laid out per the proto: image H x W x C, matte H x W (or null to use channel 4).
struct FramePlanes {
  const std::uint8_t* image = nullptr;
  const std::uint8_t* matte = nullptr;
};

using FrameSource = std::function<FramePlanes(std::size_t index)>;

struct FrameGeometry {
  std::uint32_t width = 0, height = 0, channels = 4;
  SampleType type = SampleType::kFloat32;

  std::size_t imageBytes() const { return std::size_t(width) * height * channels * sampleBytes(type); }
  std::size_t matteBytes() const { return std::size_t(width) * height * sampleBytes(type); }
};

class HarmonizeClient {
 public:
  explicit HarmonizeClient(std::string address);
  ~HarmonizeClient();
  HarmonizeClient(const HarmonizeClient&) = delete;
  HarmonizeClient& operator=(const HarmonizeClient&) = delete;

  const std::string& address() const { return address_; }

  // The server's GetInfo answer, fetched once and kept (the server's models do not change while it runs).
  const vh::server::v1::ServerInfo& info();

  // The ModelInfo that `name` (a name, an alias, or empty for the default) selects; BridgeError if none.
  const vh::server::v1::ModelInfo& model(const std::string& name);

  // Harmonize `count` frames (all of `geometry`) as one stream and write each result's image plane into
  // outputs[i] (geometry.imageBytes() each). frameAt(i) is called on the calling thread, in order, just before
  // frame i is sent, and its planes need only stay valid until the next call, so a window never has to be
  // packed in memory at once. `aborted` is polled throughout; returning true cancels the stream.
  void harmonize(const StreamSettings& settings, const FrameGeometry& geometry, std::size_t count,
                 bool separateMatte, const FrameSource& frameAt, const std::vector<std::uint8_t*>& outputs,
                 const std::function<bool()>& aborted);

  // One line describing the server (version, device, default model, models), for the plugin's status field.
  std::string describe();

 private:
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<vh::server::v1::Harmonizer::Stub> stub_;
  std::unique_ptr<vh::server::v1::ServerInfo> info_;
};

// "a=1, b=soft" -> typed OptionValues for `model`; BridgeError names the unknown option or bad value.
google::protobuf::Map<std::string, vh::server::v1::OptionValue> parseOptions(
    const std::string& text, const vh::server::v1::ModelInfo& model);

}  // namespace vh::ofx
