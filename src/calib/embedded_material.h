// The curated calibration material (data/calib/<domain>.jsonl), embedded at build time.
#pragma once
#include <span>
#include <string_view>

namespace lp::calib {

struct EmbeddedFile {
  std::string_view name;     // "chat.jsonl"
  std::string_view content;  // the file's bytes
};

// Sorted by name.
std::span<const EmbeddedFile> embedded_calibration_material();

}  // namespace lp::calib
