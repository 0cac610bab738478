// A Hugging Face checkpoint folder: config.json plus weights as model.safetensors, or sharded
// model-0000i-of-0000N.safetensors listed by model.safetensors.index.json (any *.safetensors.index.json),
// or, lacking both, every *.safetensors in the folder. Tokenizer files and chat template are optional.
// Also accepts a bare config.json path or a folder with only config.json (has_weights() == false).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/safetensors.h"

namespace lp::formats {

class Checkpoint {
 public:
  static Checkpoint open(const std::string& dir_or_config);

  const nlohmann::json& config() const { return config_; }
  const std::string& dir() const { return dir_; }
  bool has_weights() const { return !files_->empty(); }
  const std::vector<SafetensorsFile>& files() const { return *files_; }

  std::vector<std::string> tensor_names() const;  // sorted
  size_t tensor_count() const { return index_.size(); }
  const StTensor* find(std::string_view name) const;
  const StTensor& tensor(std::string_view name) const;  // throws naming the folder and tensor
  uint64_t total_bytes() const;  // sum of all tensor bytes

  // Any float dtype (F64/F32/F16/BF16/F8_E4M3/F8_E5M2) to float32. For FP8 weights with a block-scale
  // companion (`<name>_scale_inv`, or `<prefix>.weight_scale_inv` for `<prefix>.weight`) the scales
  // are applied; block size from config quantization_config.weight_block_size, else derived from the
  // shapes. Integer dtypes are rejected (they carry packed data such as MXFP4 blocks: caller handles).
  // With check_finite, the first NaN/Inf throws naming tensor, file and element index.
  void read_f32(const StTensor& t, float* out, bool check_finite = true) const;
  // Lets the kernel drop bytes [offset, offset+length) of t from our resident set once they were consumed.
  void release(const StTensor& t, uint64_t offset, uint64_t length) const;
  std::vector<float> read_f32(std::string_view name, bool check_finite = true) const;
  // The block-scale tensor applied to `t` by read_f32, if any.
  const StTensor* scale_for(const StTensor& t) const;

  // Chat template precedence (as transformers >= 4.43): chat_template.jinja > chat_template.json
  // ("chat_template" key) > tokenizer_config.json "chat_template" (a string, or a list of
  // {"name", "template"} from which "default" is taken, else the first entry).
  std::optional<std::string> chat_template() const;
  std::optional<nlohmann::json> tokenizer_json() const;
  std::optional<nlohmann::json> tokenizer_config() const;
  std::optional<nlohmann::json> generation_config() const;
  std::optional<nlohmann::json> read_json_file(const std::string& filename) const;  // nullopt if absent
  std::string path_of(const std::string& filename) const;  // dir/filename

 private:
  std::string dir_;
  nlohmann::json config_;
  // Shared so copies of a Checkpoint stay valid: index_ points into these files' tensor lists.
  std::shared_ptr<const std::vector<SafetensorsFile>> files_ = std::make_shared<std::vector<SafetensorsFile>>();
  std::map<std::string, const StTensor*, std::less<>> index_;
};

// Reads `count` elements of a float-typed raw buffer into float32 (no scales, no checks).
void convert_to_f32(StDtype dtype, const uint8_t* src, uint64_t count, float* out);

}  // namespace lp::formats
