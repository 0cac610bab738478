// The curated calibration material (data/calib/<domain>.jsonl), embedded at build time (lp_embed_files).
#pragma once
#include <span>
#include <string_view>

#include "core/embedded_file.h"

namespace lp::calib {

using EmbeddedFile = lp::EmbeddedFile;

// Sorted by name.
std::span<const EmbeddedFile> embedded_calibration_material();

}  // namespace lp::calib
