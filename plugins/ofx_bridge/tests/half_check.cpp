// Test driver for half.h (run by tests/plugins/ofx/test_half.py, which compares it with numpy's float16).
//
//   half_check encode < float32s > uint16s     floatToHalf of every little-endian float32 read
//   half_check decode < uint16s  > float32s    halfToFloat of every little-endian uint16 read
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "half.h"

int main(int argc, char** argv) {
  if (argc != 2 || (std::strcmp(argv[1], "encode") != 0 && std::strcmp(argv[1], "decode") != 0)) {
    std::fprintf(stderr, "usage: half_check encode|decode < in > out\n");
    return 2;
  }
  const bool encode = std::strcmp(argv[1], "encode") == 0;
  std::vector<unsigned char> in;
  unsigned char buffer[1 << 16];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, stdin)) > 0) in.insert(in.end(), buffer, buffer + n);
  const std::size_t width = encode ? 4 : 2;
  for (std::size_t i = 0; i + width <= in.size(); i += width) {
    if (encode) {
      float f;
      std::memcpy(&f, &in[i], 4);
      const std::uint16_t h = vh::ofx::floatToHalf(f);
      std::fwrite(&h, 2, 1, stdout);
    } else {
      std::uint16_t h;
      std::memcpy(&h, &in[i], 2);
      const float f = vh::ofx::halfToFloat(h);
      std::fwrite(&f, 4, 1, stdout);
    }
  }
  return 0;
}
