#include "formats/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "core/fp16.h"

namespace fs = std::filesystem;

namespace lp::formats {

namespace {
std::string read_text(const fs::path& p) { return read_file(p); }
nlohmann::json parse_json_file(const fs::path& p) { return read_json_file(p); }

float fp8_e5m2_to_f32(uint8_t v) { return f16_to_f32(static_cast<uint16_t>(v) << 8); }
}  // namespace

void convert_to_f32(StDtype dtype, const uint8_t* src, uint64_t count, float* out) {
  switch (dtype) {
    case StDtype::F32: std::memcpy(out, src, count * 4); return;
    case StDtype::F64:
      for (uint64_t i = 0; i < count; ++i) {
        double d;
        std::memcpy(&d, src + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      return;
    case StDtype::F16:
    case StDtype::BF16:
      for (uint64_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        out[i] = dtype == StDtype::F16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
      return;
    case StDtype::F8_E4M3:
      for (uint64_t i = 0; i < count; ++i) out[i] = fp8_e4m3_to_f32(src[i]);
      return;
    case StDtype::F8_E5M2:
      for (uint64_t i = 0; i < count; ++i) out[i] = fp8_e5m2_to_f32(src[i]);
      return;
    case StDtype::F8_E8M0:
      for (uint64_t i = 0; i < count; ++i) out[i] = src[i] == 0xff ? std::nanf("") : e8m0_to_f32(src[i]);
      return;
    default: fail("cannot convert {} to float32", st_dtype_name(dtype));
  }
}

Checkpoint Checkpoint::open(const std::string& dir_or_config) {
  Checkpoint c;
  fs::path p(dir_or_config);
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) {
    if (p.filename() != "config.json") fail("{}: expected a checkpoint folder or its config.json", dir_or_config);
    p = p.parent_path();
    if (p.empty()) p = ".";
  } else if (!fs::is_directory(p, ec)) {
    fail("{}: no such checkpoint folder", dir_or_config);
  }
  c.dir_ = p.string();
  const fs::path config = p / "config.json";
  if (!fs::exists(config)) fail("{}: no config.json", c.dir_);
  c.config_ = parse_json_file(config);
  if (!c.config_.is_object()) fail("{}: not a JSON object", config.string());

  // Which files hold the weights: an index, else model.safetensors, else every *.safetensors.
  std::vector<fs::path> index_files, st_files;
  for (const auto& e : fs::directory_iterator(p)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".safetensors.index.json")) index_files.push_back(e.path());
    else if (name.ends_with(".safetensors") && e.is_regular_file()) st_files.push_back(e.path());
  }
  std::sort(index_files.begin(), index_files.end());
  std::sort(st_files.begin(), st_files.end());
  nlohmann::json weight_map;
  std::vector<fs::path> to_open;
  fs::path index_path;
  if (!index_files.empty()) {
    index_path = fs::exists(p / "model.safetensors.index.json") ? p / "model.safetensors.index.json" : index_files[0];
    const nlohmann::json index = parse_json_file(index_path);
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      fail("{}: missing weight_map object", index_path.string());
    weight_map = index["weight_map"];
    std::set<std::string> shards;
    for (const auto& [tensor, file] : weight_map.items()) {
      if (!file.is_string()) fail("{}: weight_map '{}' is not a string", index_path.string(), tensor);
      const std::string f = file.get<std::string>();
      if (f.find('/') != std::string::npos || f == "..") fail("{}: weight_map '{}': bad file name '{}'", index_path.string(), tensor, f);
      shards.insert(f);
    }
    for (const auto& s : shards) {
      if (!fs::exists(p / s)) fail("{}: shard '{}' listed in the index is missing", index_path.string(), s);
      to_open.push_back(p / s);
    }
  } else if (fs::exists(p / "model.safetensors")) {
    to_open.push_back(p / "model.safetensors");
  } else {
    to_open = st_files;
  }

  auto files = std::make_shared<std::vector<SafetensorsFile>>();
  files->reserve(to_open.size());
  for (const auto& f : to_open) files->push_back(SafetensorsFile::open(f.string()));
  c.files_ = std::move(files);
  for (const auto& f : *c.files_)
    for (const auto& t : f.tensors())
      if (!c.index_.emplace(t.name, &t).second)
        fail("{}: tensor '{}' appears in more than one file ({})", c.dir_, t.name, t.file);
  for (const auto& [tensor, file] : weight_map.items()) {
    const auto it = c.index_.find(tensor);
    if (it == c.index_.end() || fs::path(it->second->file).filename() != file.get<std::string>())
      fail("{}: weight_map says tensor '{}' is in '{}', but it is not there", index_path.string(), tensor,
           file.get<std::string>());
  }
  return c;
}

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& [name, t] : index_) out.push_back(name);
  return out;
}

const StTensor* Checkpoint::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

const StTensor& Checkpoint::tensor(std::string_view name) const {
  const StTensor* t = find(name);
  if (!t) fail("{}: missing tensor '{}'", dir_, name);
  return *t;
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t n = 0;
  for (const auto& [name, t] : index_) n += t->nbytes;
  return n;
}

const StTensor* Checkpoint::scale_for(const StTensor& t) const {
  if (t.dtype != StDtype::F8_E4M3 && t.dtype != StDtype::F8_E5M2) return nullptr;
  if (const StTensor* s = find(t.name + "_scale_inv")) return s;
  if (t.name.ends_with(".weight")) {
    if (const StTensor* s = find(t.name.substr(0, t.name.size() - 7) + ".weight_scale_inv")) return s;
  }
  return nullptr;
}

void Checkpoint::read_f32(const StTensor& t, float* out, bool check_finite) const {
  if (!st_dtype_is_float(t.dtype))
    fail("{}: tensor '{}' has dtype {}, not a float type", t.file, t.name, st_dtype_name(t.dtype));
  const uint64_t n = t.n_elements();
  convert_to_f32(t.dtype, t.data, n, out);
  if (const StTensor* s = scale_for(t)) {
    if (t.shape.size() != 2 || s->shape.size() != 2 || !st_dtype_is_float(s->dtype))
      fail("{}: tensor '{}': block scales '{}' need 2-D float tensors", t.file, t.name, s->name);
    const int64_t rows = t.shape[0], cols = t.shape[1];
    const int64_t srows = s->shape[0], scols = s->shape[1];
    int64_t br = 0, bc = 0;
    const auto q = config_.find("quantization_config");
    if (q != config_.end() && q->is_object() && q->contains("weight_block_size") &&
        (*q)["weight_block_size"].is_array() && (*q)["weight_block_size"].size() == 2) {
      const auto& bs = (*q)["weight_block_size"];
      if (!bs[0].is_number_integer() || !bs[1].is_number_integer())
        fail("{}: quantization_config.weight_block_size must be two integers", path_of("config.json"));
      br = bs[0].get<int64_t>();
      bc = bs[1].get<int64_t>();
    } else if (srows > 0 && scols > 0) {
      br = (rows + srows - 1) / srows;
      bc = (cols + scols - 1) / scols;
    }
    if (br <= 0 || bc <= 0 || (rows + br - 1) / br != srows || (cols + bc - 1) / bc != scols)
      fail("{}: tensor '{}': scale '{}' shape [{}, {}] does not tile [{}, {}]", t.file, t.name, s->name, srows, scols,
           rows, cols);
    std::vector<float> scales(static_cast<size_t>(s->n_elements()));
    convert_to_f32(s->dtype, s->data, s->n_elements(), scales.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) out[r * cols + c] *= scales[(r / br) * scols + c / bc];
  }
  if (check_finite) {
    for (uint64_t i = 0; i < n; ++i)
      if (!std::isfinite(out[i]))
        fail("{}: tensor '{}': non-finite value {} at element {}", t.file, t.name, out[i], i);
  }
}

std::vector<float> Checkpoint::read_f32(std::string_view name, bool check_finite) const {
  const StTensor& t = tensor(name);
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  read_f32(t, out.data(), check_finite);
  return out;
}

std::string Checkpoint::path_of(const std::string& filename) const { return (fs::path(dir_) / filename).string(); }

std::optional<nlohmann::json> Checkpoint::read_json_file(const std::string& filename) const {
  const fs::path p = fs::path(dir_) / filename;
  if (!fs::exists(p)) return std::nullopt;
  return parse_json_file(p);
}

std::optional<nlohmann::json> Checkpoint::tokenizer_json() const { return read_json_file("tokenizer.json"); }
std::optional<nlohmann::json> Checkpoint::tokenizer_config() const { return read_json_file("tokenizer_config.json"); }
std::optional<nlohmann::json> Checkpoint::generation_config() const { return read_json_file("generation_config.json"); }

std::optional<std::string> Checkpoint::chat_template() const {
  const fs::path jinja = fs::path(dir_) / "chat_template.jinja";
  if (fs::exists(jinja)) return read_text(jinja);
  auto from_value = [&](const nlohmann::json& v, const std::string& file) -> std::optional<std::string> {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_array()) {
      std::optional<std::string> first;
      for (const auto& e : v) {
        if (!e.is_object() || !e.contains("template") || !e["template"].is_string())
          fail("{}: chat_template list entries need a \"template\" string", file);
        if (!first) first = e["template"].get<std::string>();
        if (e.value("name", "") == "default") return e["template"].get<std::string>();
      }
      return first;
    }
    if (v.is_null()) return std::nullopt;
    fail("{}: chat_template must be a string or a list", file);
  };
  if (auto j = read_json_file("chat_template.json")) {
    if (j->is_object() && j->contains("chat_template")) return from_value((*j)["chat_template"], path_of("chat_template.json"));
  }
  if (auto j = tokenizer_config()) {
    if (j->is_object() && j->contains("chat_template")) return from_value((*j)["chat_template"], path_of("tokenizer_config.json"));
  }
  return std::nullopt;
}

void Checkpoint::release(const StTensor& t, uint64_t offset, uint64_t length) const {
  for (const auto& f : files())
    if (f.path() == t.file) {
      f.release(t, offset, length);
      return;
    }
}

}  // namespace lp::formats
