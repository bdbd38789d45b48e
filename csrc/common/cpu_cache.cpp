#include "cpu_cache.h"

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace walloc {
namespace {

constexpr int64_t kFallbackL2 = int64_t(512) << 10;

// "1024K", "2M", "524288" -> bytes; 0 for anything else.
int64_t parse_size(const std::string& text) {
  size_t end = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &end);
  } catch (const std::exception&) {
    return 0;
  }
  const std::string suffix = text.substr(end);
  if (suffix == "K" || suffix == "k") value <<= 10;
  else if (suffix == "M" || suffix == "m") value <<= 20;
  else if (!suffix.empty()) return 0;
  return value > 0 ? value : 0;
}

std::string read_line(const std::string& path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return line;
}

// The level-2 data or unified cache of cpu0 in /sys/devices/system/cpu/cpu0/cache/index*/.
int64_t sysfs_l2() {
  for (int index = 0; index < 8; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    if (read_line(dir + "level") != "2" || read_line(dir + "type") == "Instruction") continue;
    return parse_size(read_line(dir + "size"));
  }
  return 0;
}

int64_t detect() {
  if (const char* requested = std::getenv("WALLOC_L2_BYTES")) {
    if (const int64_t bytes = parse_size(requested)) return bytes;
  }
  const int64_t bytes = sysfs_l2();
  return bytes > 0 ? bytes : kFallbackL2;
}

}  // namespace

int64_t l2_cache_bytes() {
  static const int64_t bytes = detect();
  return bytes;
}

}  // namespace walloc
