// Shared bits of the lp_convert tests: scratch directories, fixture lookup, bf16 source reading.
#pragma once
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "formats/safetensors.h"

namespace lp::convert_test {

namespace fs = std::filesystem;

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix = "lp-convert-test-") {
    std::random_device rd;
    for (int i = 0; i < 100 && path_.empty(); ++i) {
      fs::path p = fs::temp_directory_path() / (prefix + std::to_string(::getpid()) + "-" + std::to_string(rd()));
      if (fs::create_directory(p)) path_ = p;
    }
    if (path_.empty()) throw std::runtime_error("cannot create a scratch directory");
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  fs::path path_;
};

inline fs::path fixture(const std::string& name) { return fs::path(LP_SHARED_FIXTURES) / name; }
inline bool have_fixture(const std::string& name) { return fs::exists(fixture(name) / "model.safetensors"); }

// A float tensor (F32/F16/BF16) as f32 values.
inline std::vector<float> to_f32(const formats::StTensor& t) {
  std::vector<float> v(t.n_elements());
  const auto* p = t.data;
  for (size_t i = 0; i < v.size(); ++i) {
    switch (t.dtype) {
      case formats::StDtype::F32: v[i] = reinterpret_cast<const float*>(p)[i]; break;
      case formats::StDtype::F16: v[i] = f16_to_f32(reinterpret_cast<const uint16_t*>(p)[i]); break;
      case formats::StDtype::BF16: v[i] = bf16_to_f32(reinterpret_cast<const uint16_t*>(p)[i]); break;
      default: throw std::runtime_error(t.name + ": not a float tensor");
    }
  }
  return v;
}

// Names of every entry in a directory, sorted.
inline std::vector<std::string> list_dir(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace lp::convert_test
