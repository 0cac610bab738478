#include "calib/embedded_material.h"

#include <cstddef>

namespace lp::calib {
namespace detail {
// The table lp_embed_files writes (src/calib/CMakeLists.txt).
extern const lp::EmbeddedFile kCalibrationMaterial[];
extern const size_t kCalibrationMaterialCount;
}  // namespace detail

std::span<const EmbeddedFile> embedded_calibration_material() {
  return {detail::kCalibrationMaterial, detail::kCalibrationMaterialCount};
}

}  // namespace lp::calib
