// Harmonized windows kept between renders, so that rendering t, t+1, ... sends each window to the server once.
//
// A window is keyed by everything that shaped its result (server, model, options, strength, colourspace,
// window size, frame geometry) plus its first frame. Hosts re-render when something upstream changes without
// telling the effect, so each frame also remembers the fingerprint of the input it was computed from: a frame
// whose input no longer matches is a miss, never a stale answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "ofx_support.h"

namespace vh::ofx {

struct WindowResult {
  std::string key;                     // settings and geometry that shaped the result
  int start = 0;                       // host frame number of frames[0]
  std::vector<std::uint64_t> inputs;   // fingerprint of each input frame (image and matte)
  std::vector<HostBuffer> frames;      // harmonized packed planes, one per frame of the window
};

class WindowCache {
 public:
  // Two windows: the one being played through and its predecessor (scrubbing back across a boundary).
  explicit WindowCache(std::size_t capacity = 2) : capacity_(capacity) {}

  // The harmonized plane of frame `start + index`, or null when absent or computed from a different input.
  const std::uint8_t* find(const std::string& key, int start, int index, std::uint64_t input) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      WindowResult& w = **it;
      if (w.key != key || w.start != start) continue;
      if (index < 0 || index >= static_cast<int>(w.frames.size()) || w.inputs[index] != input) return nullptr;
      entries_.splice(entries_.begin(), entries_, it);  // most recently used first
      return w.frames[index].data();
    }
    return nullptr;
  }

  // Keep `window`, replacing one with the same key and start, evicting the least recently used beyond capacity.
  const WindowResult& insert(std::unique_ptr<WindowResult> window) {
    entries_.remove_if([&](const std::unique_ptr<WindowResult>& w) {
      return w->key == window->key && w->start == window->start;
    });
    entries_.push_front(std::move(window));
    while (entries_.size() > capacity_) entries_.pop_back();
    return *entries_.front();
  }

  void clear() { entries_.clear(); }
  std::size_t size() const { return entries_.size(); }

 private:
  std::size_t capacity_;
  std::list<std::unique_ptr<WindowResult>> entries_;
};

}  // namespace vh::ofx
