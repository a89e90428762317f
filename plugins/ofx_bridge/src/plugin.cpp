// VHMAE Harmonize: an OpenFX temporal image effect that repaints a pasted foreground to match its plate by
// sending a window of frames to vh-server and bringing the harmonized frame back.
//
// Windows. The clip is cut into consecutive windows of `windowSize` frames starting at the clip's first frame;
// rendering frame t sends t's whole window (GetFramesNeeded asks the host for exactly those frames) and caches
// every harmonized frame of it, so t+1, t+2, ... come from the cache. Because windows are fixed, not centred on
// t, a frame's result does not depend on the order the host renders in. A window that runs past the clip's end
// is sent short and the server's engine pads it (edge replicate), exactly as `vh harmonize` pads a clip's end;
// render times outside the clip clamp to its first or last frame. A host without a frame range (MLT) starts the
// windows at frame 0 and never shortens the last one.
//
// Hosts without temporal clip access (the host property kOfxImageEffectPropTemporalClipAccess is 0: MLT, most
// editors) give the plugin only the frame being rendered, so there each frame is its own window of one frame:
// the models' temporal smoothing cannot run there, and results equal `vh harmonize` run on each frame alone.
//
// Pixels. Source and Output may be RGBA or RGB, in float, half, short or byte, whatever the host offers; byte
// and short travel as 0..1 float32 and come back clamped to 0..1. An RGB Source needs the Matte input.
//
// Errors. Every failure (no server, unknown model, bad images) becomes one persistent message on the node (hosts
// without a UI write it to their log) and kOfxStatFailed; a failed render first copies the Source to the Output,
// so a host that shows the frame anyway shows the plate, not black. No exception ever crosses into the host.
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "harmonize_client.h"
#include "ofx_support.h"
#include "pixels.h"
#include "vh_ofx_api.h"
#include "window_cache.h"

namespace vh::ofx {
namespace {

constexpr const char* kPluginId = "org.vh.VHMAEHarmonize";
constexpr const char* kMatteClip = "Matte";

// Parameter names (script names), kept stable: hosts save projects by them.
constexpr const char* kParamAddress = "serverAddress";
constexpr const char* kParamModel = "model";
constexpr const char* kParamOptions = "modelOptions";
constexpr const char* kParamStrength = "strength";
constexpr const char* kParamWindow = "windowSize";
constexpr const char* kParamColorspace = "colorspace";
constexpr const char* kParamConnect = "connect";
constexpr const char* kParamStatus = "status";

constexpr const char* kDefaultAddress = "127.0.0.1:50051";
constexpr int kDefaultWindow = 8;
constexpr int kMaxWindow = 64;

// ------------------------------------------------------------------------------------------------------------
// Instance state
// ------------------------------------------------------------------------------------------------------------

struct Instance {
  OfxImageEffectHandle effect = nullptr;
  OfxImageClipHandle source = nullptr, matte = nullptr, output = nullptr;
  OfxParamHandle address = nullptr, model = nullptr, options = nullptr, strength = nullptr, window = nullptr,
                 colorspace = nullptr, status = nullptr;

  std::mutex mutex;  // guards client and cache (hosts may call actions from several threads)
  std::unique_ptr<HarmonizeClient> client;
  WindowCache cache;

  HarmonizeClient& clientFor(const std::string& address) {
    if (!client || client->address() != address) client = std::make_unique<HarmonizeClient>(address);
    return *client;
  }
};

Instance* instanceOf(OfxImageEffectHandle effect) {
  OfxPropertySetHandle props = nullptr;
  suites().effect->getPropertySet(effect, &props);
  return static_cast<Instance*>(getPointer(props, kOfxPropInstanceData));
}

// The values of the parameters at one time, and the clip range they apply to.
struct Settings {
  std::string address;
  StreamSettings stream;
  int window = kDefaultWindow;
};

std::string stringParam(OfxParamHandle param) {
  char* value = nullptr;
  if (suites().param->paramGetValue(param, &value) != kOfxStatOK) throw BridgeError("cannot read a string parameter");
  return value ? value : "";
}

Settings readSettings(const Instance& inst, double time) {
  Settings s;
  double strength = 1.0;
  int window = kDefaultWindow;
  s.address = stringParam(inst.address);
  s.stream.model = stringParam(inst.model);
  s.stream.options = stringParam(inst.options);
  s.stream.colorspace = stringParam(inst.colorspace);
  if (suites().param->paramGetValueAtTime(inst.strength, time, &strength) != kOfxStatOK ||
      suites().param->paramGetValueAtTime(inst.window, time, &window) != kOfxStatOK)
    throw BridgeError("cannot read the strength or window parameters");
  s.stream.strength = static_cast<float>(std::fmin(std::fmax(strength, 0.0), 1.0));
  s.window = window < 1 ? 1 : (window > kMaxWindow ? kMaxWindow : window);
  if (s.stream.colorspace.empty()) s.stream.colorspace = "scene_linear";
  return s;
}

// The window of frames that frame `time` belongs to.
struct WindowSpan {
  int start = 0;  // first host frame sent
  int count = 1;  // frames sent (short at the clip's end)
  int index = 0;  // position of the rendered frame in the window
};

WindowSpan windowFor(const Instance& inst, double time, int size) {
  int frame = static_cast<int>(std::floor(time + 0.5));
  if (!suites().temporal) return WindowSpan{frame, 1, 0};  // only the frame given: a window of one
  // The Source's frame range, else the effect's, else none (windows from frame 0, the last one not shortened).
  OfxPropertySetHandle clipProps = nullptr, effectProps = nullptr;
  suites().effect->clipGetPropertySet(inst.source, &clipProps);
  suites().effect->getPropertySet(inst.effect, &effectProps);
  double range[2] = {0.0, 0.0};
  bool known = getDoubleIf(clipProps, kOfxImageEffectPropFrameRange, 0, &range[0]) &&
               getDoubleIf(clipProps, kOfxImageEffectPropFrameRange, 1, &range[1]);
  if (!known)
    known = getDoubleIf(effectProps, kOfxImageEffectPropFrameRange, 0, &range[0]) &&
            getDoubleIf(effectProps, kOfxImageEffectPropFrameRange, 1, &range[1]);
  if (!known) {
    WindowSpan span;
    span.start = frame >= 0 ? frame / size * size : -((-frame + size - 1) / size) * size;
    span.count = size;
    span.index = frame - span.start;
    return span;
  }
  const int first = static_cast<int>(std::floor(range[0] + 0.5));
  int last = static_cast<int>(std::floor(range[1] + 0.5));
  if (last < first) last = first;
  frame = frame < first ? first : (frame > last ? last : frame);
  WindowSpan span;
  span.start = first + (frame - first) / size * size;
  span.count = std::min(size, last - span.start + 1);
  span.index = frame - span.start;
  return span;
}

bool matteConnected(const Instance& inst) {
  // A host that lacks the optional clip, or leaves its Connected property unset, has no matte connected.
  OfxPropertySetHandle props = nullptr;
  if (!inst.matte || suites().effect->clipGetPropertySet(inst.matte, &props) != kOfxStatOK) return false;
  return getIntOr(props, kOfxImageClipPropConnected, 0, 0) != 0;
}

std::string settingsKey(const Settings& s, const HostImage& frame, bool matte) {
  char strength[32];
  std::snprintf(strength, sizeof strength, "%.9g", s.stream.strength);
  const OfxRectI& b = frame.bounds();
  return s.address + '\n' + s.stream.model + '\n' + s.stream.options + '\n' + strength + '\n' + s.stream.colorspace +
         '\n' + std::to_string(s.window) + '\n' + std::to_string(b.x1) + ',' + std::to_string(b.y1) + ',' +
         std::to_string(b.x2) + ',' + std::to_string(b.y2) + '\n' + std::to_string(int(frame.depth())) +
         ',' + std::to_string(frame.components()) +
         (matte ? "\nmatte" : "\nalpha");
}

std::uint64_t combine(std::uint64_t image, std::uint64_t matte) { return image ^ (matte * 0x9E3779B97F4A7C15ull + 1); }

// ------------------------------------------------------------------------------------------------------------
// Messages
// ------------------------------------------------------------------------------------------------------------

void reportError(OfxImageEffectHandle effect, const std::string& text) {
  const HostSuites& h = suites();
  if (h.message2) h.message2->setPersistentMessage(effect, kOfxMessageError, "", "%s", text.c_str());
  else if (h.message1) h.message1->message(effect, kOfxMessageError, "", "%s", text.c_str());
}

void clearError(OfxImageEffectHandle effect) {
  if (suites().message2) suites().message2->clearPersistentMessage(effect);
}

void setStatus(const Instance& inst, const std::string& text) {
  suites().param->paramSetValue(inst.status, text.c_str());
}

// ------------------------------------------------------------------------------------------------------------
// Describe
// ------------------------------------------------------------------------------------------------------------

OfxStatus describe(OfxImageEffectHandle descriptor) {
  OfxPropertySetHandle props = nullptr;
  suites().effect->getPropertySet(descriptor, &props);
  const OfxPropertySuiteV1& p = *suites().prop;
  p.propSetString(props, kOfxPropLabel, 0, "VHMAE Harmonize");
  p.propSetString(props, kOfxImageEffectPluginPropGrouping, 0, "vh");
  p.propSetString(props, kOfxPropPluginDescription, 0,
                  "Repaints the matted foreground so that its colour matches the plate, through a vh-server.");
  p.propSetString(props, kOfxImageEffectPropSupportedContexts, 0, kOfxImageEffectContextFilter);
  p.propSetString(props, kOfxImageEffectPropSupportedContexts, 1, kOfxImageEffectContextGeneral);
  p.propSetString(props, kOfxImageEffectPropSupportedPixelDepths, 0, kOfxBitDepthFloat);
  p.propSetString(props, kOfxImageEffectPropSupportedPixelDepths, 1, kOfxBitDepthHalf);
  p.propSetString(props, kOfxImageEffectPropSupportedPixelDepths, 2, kOfxBitDepthShort);
  p.propSetString(props, kOfxImageEffectPropSupportedPixelDepths, 3, kOfxBitDepthByte);
  p.propSetInt(props, kOfxImageEffectPropTemporalClipAccess, 0, 1);
  // Harmonization is global (colour statistics of the whole frame): no tiles, one resolution per render.
  p.propSetInt(props, kOfxImageEffectPropSupportsTiles, 0, 0);
  p.propSetInt(props, kOfxImageEffectPropSupportsMultiResolution, 0, 0);
  p.propSetInt(props, kOfxImageEffectPluginPropSingleInstance, 0, 0);
  p.propSetInt(props, kOfxImageEffectPluginPropHostFrameThreading, 0, 0);
  p.propSetString(props, kOfxImageEffectPluginRenderThreadSafety, 0, kOfxImageEffectRenderInstanceSafe);
  return kOfxStatOK;
}

OfxPropertySetHandle defineParam(OfxParamSetHandle params, const char* type, const char* name, const char* label,
                                 const char* hint) {
  OfxPropertySetHandle props = nullptr;
  if (suites().param->paramDefine(params, type, name, &props) != kOfxStatOK)
    throw BridgeError(std::string("the host refused parameter ") + name);
  suites().prop->propSetString(props, kOfxPropLabel, 0, label);
  suites().prop->propSetString(props, kOfxParamPropHint, 0, hint);
  return props;
}

OfxStatus describeInContext(OfxImageEffectHandle descriptor) {
  const OfxPropertySuiteV1& p = *suites().prop;
  OfxPropertySetHandle clip = nullptr;
  suites().effect->clipDefine(descriptor, kOfxImageEffectSimpleSourceClipName, &clip);
  p.propSetString(clip, kOfxImageEffectPropSupportedComponents, 0, kOfxImageComponentRGBA);
  p.propSetString(clip, kOfxImageEffectPropSupportedComponents, 1, kOfxImageComponentRGB);
  p.propSetInt(clip, kOfxImageEffectPropTemporalClipAccess, 0, 1);
  p.propSetInt(clip, kOfxImageEffectPropSupportsTiles, 0, 0);

  suites().effect->clipDefine(descriptor, kMatteClip, &clip);
  p.propSetString(clip, kOfxImageEffectPropSupportedComponents, 0, kOfxImageComponentAlpha);
  p.propSetString(clip, kOfxImageEffectPropSupportedComponents, 1, kOfxImageComponentRGBA);
  p.propSetInt(clip, kOfxImageEffectPropTemporalClipAccess, 0, 1);
  p.propSetInt(clip, kOfxImageEffectPropSupportsTiles, 0, 0);
  p.propSetInt(clip, kOfxImageClipPropOptional, 0, 1);
  p.propSetInt(clip, kOfxImageClipPropIsMask, 0, 1);

  suites().effect->clipDefine(descriptor, kOfxImageEffectOutputClipName, &clip);
  p.propSetString(clip, kOfxImageEffectPropSupportedComponents, 0, kOfxImageComponentRGBA);
  p.propSetString(clip, kOfxImageEffectPropSupportedComponents, 1, kOfxImageComponentRGB);
  p.propSetInt(clip, kOfxImageEffectPropSupportsTiles, 0, 0);

  OfxParamSetHandle params = nullptr;
  suites().effect->getParamSet(descriptor, &params);
  auto stringParam = [&](const char* name, const char* label, const char* def, const char* hint) {
    OfxPropertySetHandle props = defineParam(params, kOfxParamTypeString, name, label, hint);
    p.propSetString(props, kOfxParamPropDefault, 0, def);
    p.propSetInt(props, kOfxParamPropAnimates, 0, 0);
    p.propSetString(props, kOfxParamPropStringMode, 0, kOfxParamStringIsSingleLine);
    return props;
  };
  stringParam(kParamAddress, "Server", kDefaultAddress, "host:port of a running vh-server");
  stringParam(kParamModel, "Model", "", "model name or alias (e.g. stats, vhmae); empty = the server's default");
  stringParam(kParamOptions, "Model options", "", "name=value pairs, comma separated, e.g. time_constant=0");
  stringParam(kParamColorspace, "Colourspace", "scene_linear",
              "OCIO colourspace (or role) of the Source pixels in the server's config");

  OfxPropertySetHandle strength = defineParam(params, kOfxParamTypeDouble, kParamStrength, "Strength",
                                              "0 = original foreground, 1 = fully harmonized");
  p.propSetDouble(strength, kOfxParamPropDefault, 0, 1.0);
  p.propSetDouble(strength, kOfxParamPropMin, 0, 0.0);
  p.propSetDouble(strength, kOfxParamPropMax, 0, 1.0);
  p.propSetDouble(strength, kOfxParamPropDisplayMin, 0, 0.0);
  p.propSetDouble(strength, kOfxParamPropDisplayMax, 0, 1.0);

  OfxPropertySetHandle window = defineParam(params, kOfxParamTypeInteger, kParamWindow, "Window (frames)",
                                            "frames sent to the server together; longer = steadier, more latency");
  p.propSetInt(window, kOfxParamPropDefault, 0, kDefaultWindow);
  p.propSetInt(window, kOfxParamPropMin, 0, 1);
  p.propSetInt(window, kOfxParamPropMax, 0, kMaxWindow);
  p.propSetInt(window, kOfxParamPropAnimates, 0, 0);

  defineParam(params, kOfxParamTypePushButton, kParamConnect, "Connect", "ask the server for its models and status");
  OfxPropertySetHandle status = stringParam(kParamStatus, "Status", "not connected", "server and model in use");
  p.propSetString(status, kOfxParamPropStringMode, 0, kOfxParamStringIsLabel);
  p.propSetInt(status, kOfxParamPropPersistant, 0, 0);
  p.propSetInt(status, kOfxParamPropEvaluateOnChange, 0, 0);
  return kOfxStatOK;
}

// ------------------------------------------------------------------------------------------------------------
// Instance life cycle
// ------------------------------------------------------------------------------------------------------------

OfxStatus createInstance(OfxImageEffectHandle effect) {
  auto inst = std::make_unique<Instance>();
  inst->effect = effect;
  const OfxImageEffectSuiteV1& e = *suites().effect;
  if (e.clipGetHandle(effect, kOfxImageEffectSimpleSourceClipName, &inst->source, nullptr) != kOfxStatOK ||
      e.clipGetHandle(effect, kOfxImageEffectOutputClipName, &inst->output, nullptr) != kOfxStatOK || !inst->source ||
      !inst->output)
    throw BridgeError("the host did not create the Source and Output clips");
  // The Matte clip is optional: a host may not create it at all (then the Source's alpha is the matte).
  if (e.clipGetHandle(effect, kMatteClip, &inst->matte, nullptr) != kOfxStatOK) inst->matte = nullptr;
  OfxParamSetHandle params = nullptr;
  e.getParamSet(effect, &params);
  for (auto [name, handle] : {std::pair{kParamAddress, &inst->address}, {kParamModel, &inst->model},
                              {kParamOptions, &inst->options}, {kParamStrength, &inst->strength},
                              {kParamWindow, &inst->window}, {kParamColorspace, &inst->colorspace},
                              {kParamStatus, &inst->status}}) {
    if (suites().param->paramGetHandle(params, name, handle, nullptr) != kOfxStatOK)
      throw BridgeError(std::string("the host did not create parameter ") + name);
  }
  OfxPropertySetHandle props = nullptr;
  e.getPropertySet(effect, &props);
  suites().prop->propSetPointer(props, kOfxPropInstanceData, 0, inst.release());
  return kOfxStatOK;
}

OfxStatus destroyInstance(OfxImageEffectHandle effect) {
  delete instanceOf(effect);
  OfxPropertySetHandle props = nullptr;
  suites().effect->getPropertySet(effect, &props);
  suites().prop->propSetPointer(props, kOfxPropInstanceData, 0, nullptr);
  return kOfxStatOK;
}

OfxStatus instanceChanged(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs) {
  Instance& inst = *instanceOf(effect);
  const std::string name = getString(inArgs, kOfxPropName);
  std::lock_guard<std::mutex> lock(inst.mutex);
  inst.cache.clear();  // any change makes the cached windows unreachable; free their memory now
  if (name != kParamAddress && name != kParamModel && name != kParamConnect) return kOfxStatOK;
  double time = 0.0;
  getDoubleIf(inArgs, kOfxPropTime, 0, &time);
  const Settings s = readSettings(inst, time);
  try {
    if (name == kParamConnect) inst.client.reset();  // a fresh GetInfo: the server may have been restarted
    HarmonizeClient& client = inst.clientFor(s.address);
    const auto& model = client.model(s.stream.model);
    setStatus(inst, "model " + model.name() + " (window " + std::to_string(model.window()) + ") on " + client.describe());
    clearError(effect);
  } catch (const BridgeError& error) {
    inst.client.reset();
    setStatus(inst, std::string("not connected: ") + error.what());
  }
  return kOfxStatOK;
}

// ------------------------------------------------------------------------------------------------------------
// Time and space
// ------------------------------------------------------------------------------------------------------------

OfxStatus getFramesNeeded(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs, OfxPropertySetHandle outArgs) {
  Instance& inst = *instanceOf(effect);
  const double time = getDouble(inArgs, kOfxPropTime);
  const Settings s = readSettings(inst, time);
  const WindowSpan span = windowFor(inst, time, s.window);
  const double range[2] = {double(span.start), double(span.start + span.count - 1)};
  suites().prop->propSetDoubleN(outArgs, (std::string(kOfxImageClipPropFrameRangePrefix) + "Source").c_str(), 2, range);
  if (inst.matte)
    suites().prop->propSetDoubleN(outArgs, (std::string(kOfxImageClipPropFrameRangePrefix) + kMatteClip).c_str(), 2,
                                  range);
  return kOfxStatOK;
}

OfxStatus getRegionsOfInterest(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs, OfxPropertySetHandle outArgs) {
  // The model needs whole frames (global colour statistics), whatever part of the output is asked for.
  Instance& inst = *instanceOf(effect);
  const double time = getDouble(inArgs, kOfxPropTime);
  for (auto [clip, name] : {std::pair{inst.source, "Source"}, {inst.matte, kMatteClip}}) {
    OfxRectD rod{};
    if (!clip || suites().effect->clipGetRegionOfDefinition(clip, time, &rod) != kOfxStatOK) continue;
    suites().prop->propSetDoubleN(outArgs, (std::string(kOfxImageClipPropRoIPrefix) + name).c_str(), 4, &rod.x1);
  }
  return kOfxStatOK;
}

// ------------------------------------------------------------------------------------------------------------
// Render
// ------------------------------------------------------------------------------------------------------------

// Fetch, pack and send the window, and cache what comes back. Frames are fetched one at a time as the stream
// needs them and each host image is released once packed, so only one packed frame (and matte) is held besides
// the results: a window of 4K frames does not need the whole window's input in memory at once.
const WindowResult& harmonizeWindow(Instance& inst, const Settings& s, const WindowSpan& span, const std::string& key,
                                    const OfxRectI& frame, Depth depth, int components, bool matte) {
  const SampleType type = wireType(depth);
  FrameGeometry geometry;
  geometry.width = frame.x2 - frame.x1;
  geometry.height = frame.y2 - frame.y1;
  geometry.type = type;

  auto result = std::make_unique<WindowResult>();
  result->key = key;
  result->start = span.start;
  std::vector<std::uint8_t*> outputs;
  for (int i = 0; i < span.count; ++i) {
    result->frames.emplace_back(inst.effect, geometry.imageBytes());
    outputs.push_back(result->frames.back().data());
  }
  HostBuffer image(inst.effect, geometry.imageBytes());
  HostBuffer matteBuffer = matte ? HostBuffer(inst.effect, geometry.matteBytes()) : HostBuffer();
  auto frameAt = [&](std::size_t i) {
    const int t = span.start + static_cast<int>(i);
    std::uint64_t input;
    {
      HostImage source(inst.source, "Source", t);
      const OfxRectI& b = source.bounds();
      if (b.x1 != frame.x1 || b.y1 != frame.y1 || b.x2 != frame.x2 || b.y2 != frame.y2 || source.depth() != depth ||
          source.components() != components)
        throw BridgeError("Source frame " + std::to_string(t) + " differs in size or depth from the frame rendered; "
                          "all frames of a window must match");
      packImage(source, type, image.data());
      input = fingerprint(source);
    }
    if (matte) {
      HostImage m(inst.matte, kMatteClip, t);
      packMatte(m, frame, type, matteBuffer.data());
      input = combine(input, fingerprint(m));
    }
    result->inputs.push_back(input);
    return FramePlanes{image.data(), matte ? matteBuffer.data() : nullptr};
  };
  StreamSettings stream = s.stream;
  stream.firstFrame = span.start;
  HarmonizeClient& client = inst.clientFor(s.address);
  client.harmonize(stream, geometry, static_cast<std::size_t>(span.count), matte, frameAt, outputs,
                   [&] { return suites().effect->abort(inst.effect) != 0; });
  return inst.cache.insert(std::move(result));
}

OfxRectI renderWindow(const Instance& inst, OfxPropertySetHandle inArgs, double time) {
  int w[4];
  for (int i = 0; i < 4; ++i) w[i] = getIntOr(inArgs, kOfxImageEffectPropRenderWindow, i, 0);
  if (w[2] > w[0] && w[3] > w[1]) return OfxRectI{w[0], w[1], w[2], w[3]};
  // No (or an empty) render window: the whole output image.
  HostImage output(inst.output, kOfxImageEffectOutputClipName, time);
  return output.bounds();
}

OfxStatus renderFrame(Instance& inst, double time, const OfxRectI& window) {
  const Settings s = readSettings(inst, time);
  const WindowSpan span = windowFor(inst, time, s.window);
  const bool matte = matteConnected(inst);
  const int t = span.start + span.index;

  // Frame t's own input decides whether the cached window still holds (see window_cache.h).
  std::string key;
  OfxRectI frame{};
  Depth depth{};
  int components = 4;
  std::uint64_t input;
  {
    HostImage image(inst.source, "Source", t);
    if (image.components() == 1 || (image.components() == 3 && !matte))
      throw BridgeError("the Source clip must be RGBA (its alpha is the matte), or RGB with the Matte input connected");
    frame = image.bounds();
    depth = image.depth();
    components = image.components();
    key = settingsKey(s, image, matte);
    input = fingerprint(image);
  }
  if (matte) {
    HostImage m(inst.matte, kMatteClip, t);
    input = combine(input, fingerprint(m));
  }

  std::lock_guard<std::mutex> lock(inst.mutex);
  const std::uint8_t* result = inst.cache.find(key, span.start, span.index, input);
  if (!result) {
    try {
      result = harmonizeWindow(inst, s, span, key, frame, depth, components, matte).frames[span.index].data();
    } catch (const BridgeError&) {
      inst.client.reset();  // reconnect (and re-read GetInfo) next time: the server may have restarted
      throw;
    }
  }
  HostImage output(inst.output, kOfxImageEffectOutputClipName, time);
  unpackImage(result, frame, wireType(depth), output, window);
  clearError(inst.effect);
  return kOfxStatOK;
}

OfxStatus render(OfxImageEffectHandle effect, OfxPropertySetHandle inArgs) {
  Instance& inst = *instanceOf(effect);
  double time = 0.0;
  if (!getDoubleIf(inArgs, kOfxPropTime, 0, &time)) throw BridgeError("the host gave no time to render");
  const OfxRectI window = renderWindow(inst, inArgs, time);
  try {
    return renderFrame(inst, time, window);
  } catch (...) {
    // Leave the plate in the output rather than black or stale memory, then report the error as usual.
    try {
      HostImage source(inst.source, "Source", time);
      HostImage output(inst.output, kOfxImageEffectOutputClipName, time);
      copyImage(source, output, window);
    } catch (...) {
    }
    throw;
  }
}

// ------------------------------------------------------------------------------------------------------------
// Entry points
// ------------------------------------------------------------------------------------------------------------

template <typename Suite>
const Suite* fetch(const char* name, int version) {
  OfxHost* host = suites().host;
  return host ? static_cast<const Suite*>(host->fetchSuite(host->host, name, version)) : nullptr;
}

OfxStatus load() {
  HostSuites& h = suites();
  h.prop = fetch<OfxPropertySuiteV1>(kOfxPropertySuite, 1);
  h.param = fetch<OfxParameterSuiteV1>(kOfxParameterSuite, 1);
  h.effect = fetch<OfxImageEffectSuiteV1>(kOfxImageEffectSuite, 1);
  h.memory = fetch<OfxMemorySuiteV1>(kOfxMemorySuite, 1);
  h.message2 = fetch<OfxMessageSuiteV2>(kOfxMessageSuite, 2);
  h.message1 = h.message2 ? nullptr : fetch<OfxMessageSuiteV1>(kOfxMessageSuite, 1);
  h.thread = fetch<OfxMultiThreadSuiteV1>(kOfxMultiThreadSuite, 1);
  h.temporal = !h.prop || !h.host || getIntOr(h.host->host, kOfxImageEffectPropTemporalClipAccess, 0, 1) != 0;
  if (!h.prop || !h.param || !h.effect || !h.memory) return kOfxStatErrMissingHostFeature;
  return kOfxStatOK;
}

OfxStatus mainEntry(const char* action, const void* handle, OfxPropertySetHandle inArgs, OfxPropertySetHandle outArgs) {
  auto effect = static_cast<OfxImageEffectHandle>(const_cast<void*>(handle));
  const std::string a = action ? action : "";
  try {
    if (a == kOfxActionLoad) return load();
    if (!suites().prop) return kOfxStatErrMissingHostFeature;  // an action before Load
    if (a == kOfxActionUnload) {
      suites() = HostSuites{suites().host, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, true};
      return kOfxStatOK;
    }
    if (a == kOfxActionDescribe) return describe(effect);
    if (a == kOfxImageEffectActionDescribeInContext) return describeInContext(effect);
    if (a == kOfxActionCreateInstance) return createInstance(effect);
    if (a == kOfxActionDestroyInstance) return destroyInstance(effect);
    if (a == kOfxActionInstanceChanged) return instanceChanged(effect, inArgs);
    if (a == kOfxActionPurgeCaches) {
      Instance& inst = *instanceOf(effect);
      std::lock_guard<std::mutex> lock(inst.mutex);
      inst.cache.clear();
      return kOfxStatOK;
    }
    if (a == kOfxImageEffectActionGetFramesNeeded) return getFramesNeeded(effect, inArgs, outArgs);
    if (a == kOfxImageEffectActionGetRegionsOfInterest) return getRegionsOfInterest(effect, inArgs, outArgs);
    if (a == kOfxImageEffectActionRender) return render(effect, inArgs);
    return kOfxStatReplyDefault;
  } catch (const BridgeError& error) {
    reportError(effect, error.what());
  } catch (const std::bad_alloc&) {
    reportError(effect, "VHMAE Harmonize ran out of memory");
  } catch (const std::exception& error) {
    reportError(effect, std::string("VHMAE Harmonize internal error: ") + error.what());
  } catch (...) {
    reportError(effect, "VHMAE Harmonize internal error");
  }
  return kOfxStatFailed;
}

void setHost(OfxHost* host) { suites().host = host; }

OfxPlugin plugin = {kOfxImageEffectPluginApi, 1, kPluginId, 0, 1, setHost, mainEntry};

}  // namespace
}  // namespace vh::ofx

VH_OFX_EXPORT int OfxGetNumberOfPlugins(void) { return 1; }

VH_OFX_EXPORT OfxPlugin* OfxGetPlugin(int nth) { return nth == 0 ? &vh::ofx::plugin : nullptr; }
