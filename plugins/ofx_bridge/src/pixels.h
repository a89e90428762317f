// Moving pixels between OFX host images (bottom-up rows, any row bytes, float, half, short or byte) and the proto's packed
// planes (top-left origin, H x W x C, one sample type). Pure loops over memory: no host calls but parallelFor.
#pragma once

#include <cstdint>

#include "harmonize_client.h"
#include "ofx_support.h"

namespace vh::ofx {

// Copy `image` (RGBA, or RGB with an opaque alpha added) into a packed H x W x 4 plane of `type`, flipping rows
// to top-left origin. Byte and short samples become 0..1.
void packImage(const HostImage& image, SampleType type, std::uint8_t* plane);

// Packed H x W matte of `type` covering `frame`: the last component of `matte` (alpha of RGBA, or the Alpha
// image), zero where the matte image does not reach (outside its bounds nothing is foreground).
void packMatte(const HostImage& matte, const OfxRectI& frame, SampleType type, std::uint8_t* plane);

// Write the packed RGBA plane (covering `frame`, of `type`) into `output` over `window`; output pixels inside
// the window but outside `frame` become transparent black.
void unpackImage(const std::uint8_t* plane, const OfxRectI& frame, SampleType type, const HostImage& output,
                 const OfxRectI& window);

// Copy `from` into `to` over `window` (depth and components converted; transparent black where `from` does not
// reach): the pass-through a failed render leaves, so that an error never blacks out the host's frame.
void copyImage(const HostImage& from, const HostImage& to, const OfxRectI& window);

// A 64-bit fingerprint of an image's pixels and geometry, to notice that the host changed a frame upstream
// (the cache must not serve a result harmonized from an older version of the input).
std::uint64_t fingerprint(const HostImage& image);

}  // namespace vh::ofx
