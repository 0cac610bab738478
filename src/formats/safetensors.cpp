#include "formats/safetensors.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace lp::formats {

namespace {
struct DtypeInfo {
  StDtype dtype;
  const char* name;
  uint32_t size;
  bool is_float;
};
constexpr std::array kDtypes = {
    DtypeInfo{StDtype::F64, "F64", 8, true},       DtypeInfo{StDtype::F32, "F32", 4, true},
    DtypeInfo{StDtype::F16, "F16", 2, true},       DtypeInfo{StDtype::BF16, "BF16", 2, true},
    DtypeInfo{StDtype::I64, "I64", 8, false},      DtypeInfo{StDtype::I32, "I32", 4, false},
    DtypeInfo{StDtype::I16, "I16", 2, false},      DtypeInfo{StDtype::I8, "I8", 1, false},
    DtypeInfo{StDtype::U64, "U64", 8, false},      DtypeInfo{StDtype::U32, "U32", 4, false},
    DtypeInfo{StDtype::U16, "U16", 2, false},      DtypeInfo{StDtype::U8, "U8", 1, false},
    DtypeInfo{StDtype::BOOL, "BOOL", 1, false},    DtypeInfo{StDtype::F8_E4M3, "F8_E4M3", 1, true},
    DtypeInfo{StDtype::F8_E5M2, "F8_E5M2", 1, true}, DtypeInfo{StDtype::F8_E8M0, "F8_E8M0", 1, true},
};
const DtypeInfo& info(StDtype d) {
  for (const auto& i : kDtypes)
    if (i.dtype == d) return i;
  fail("unknown safetensors dtype {}", static_cast<int>(d));
}
}  // namespace

const char* st_dtype_name(StDtype d) { return info(d).name; }
uint32_t st_dtype_size(StDtype d) { return info(d).size; }
bool st_dtype_is_float(StDtype d) { return info(d).is_float; }

std::optional<StDtype> st_dtype_from_name(std::string_view name) {
  for (const auto& i : kDtypes)
    if (name == i.name) return i.dtype;
  return std::nullopt;
}

uint64_t StTensor::n_elements() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

namespace {
uint64_t json_u64(const nlohmann::json& v, const std::string& path, const std::string& name, const char* field) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    fail("{}: tensor '{}': {} entries must be non-negative integers", path, name, field);
  return v.get<uint64_t>();
}
}  // namespace

SafetensorsFile SafetensorsFile::parse(std::span<const uint8_t> bytes, std::string name) {
  SafetensorsFile f;
  f.path_ = std::move(name);
  const std::string& path = f.path_;
  if (bytes.size() < 8) fail("{}: file is {} bytes, too small for a safetensors header", path, bytes.size());
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  if (header_len > bytes.size() - 8)
    fail("{}: header length {} exceeds the file size {}", path, header_len, bytes.size());
  f.data_offset_ = 8 + header_len;
  f.base_ = bytes.data() + f.data_offset_;
  const uint64_t buffer_size = bytes.size() - f.data_offset_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + static_cast<std::ptrdiff_t>(f.data_offset_));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON header: {}", path, e.what());
  }
  if (!header.is_object()) fail("{}: JSON header is not an object", path);

  struct Range {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Range> ranges;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) fail("{}: __metadata__ is not an object", path);
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) fail("{}: __metadata__ '{}' is not a string", path, mk);
        f.metadata_[mk] = mv.get<std::string>();
      }
      continue;
    }
    if (!value.is_object()) fail("{}: tensor '{}': entry is not an object", path, key);
    StTensor t;
    t.name = key;
    t.file = path;
    const auto dt = value.find("dtype");
    if (dt == value.end() || !dt->is_string()) fail("{}: tensor '{}': missing dtype", path, key);
    const auto dtype = st_dtype_from_name(dt->get<std::string>());
    if (!dtype) fail("{}: tensor '{}': unsupported dtype '{}'", path, key, dt->get<std::string>());
    t.dtype = *dtype;
    const auto sh = value.find("shape");
    if (sh == value.end() || !sh->is_array()) fail("{}: tensor '{}': missing shape", path, key);
    uint64_t n = 1;
    for (const auto& d : *sh) {
      const uint64_t v = json_u64(d, path, key, "shape");
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (v != 0 && n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / v))
        fail("{}: tensor '{}': shape element count overflows", path, key);
      n *= v;
      t.shape.push_back(static_cast<int64_t>(v));
    }
    const auto off = value.find("data_offsets");
    if (off == value.end() || !off->is_array() || off->size() != 2)
      fail("{}: tensor '{}': data_offsets must be [begin, end]", path, key);
    const uint64_t b = json_u64((*off)[0], path, key, "data_offsets");
    const uint64_t e = json_u64((*off)[1], path, key, "data_offsets");
    if (b > e || e > buffer_size)
      fail("{}: tensor '{}': data_offsets [{}, {}] outside the data buffer ({} bytes)", path, key, b, e, buffer_size);
    const uint32_t es = st_dtype_size(t.dtype);
    if (n > std::numeric_limits<uint64_t>::max() / es || e - b != n * es)
      fail("{}: tensor '{}': data_offsets span {} bytes but {} x {} needs {}", path, key, e - b, n,
           st_dtype_name(t.dtype), n * es);
    t.nbytes = e - b;
    t.data = f.base_ + b;
    ranges.push_back({b, e, f.tensors_.size()});
    f.tensors_.push_back(std::move(t));
  }
  // Data order; empty tensors sort before a non-empty one at the same offset and never overlap anything.
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  const Range* prev = nullptr;
  for (const auto& r : ranges) {
    if (r.begin == r.end) continue;
    if (prev && r.begin < prev->end)
      fail("{}: tensor '{}' overlaps tensor '{}'", path, f.tensors_[r.index].name, f.tensors_[prev->index].name);
    prev = &r;
  }
  std::vector<StTensor> ordered;
  ordered.reserve(ranges.size());
  for (const auto& r : ranges) ordered.push_back(std::move(f.tensors_[r.index]));
  f.tensors_ = std::move(ordered);
  for (size_t i = 0; i < f.tensors_.size(); ++i) f.by_name_.emplace(f.tensors_[i].name, i);
  return f;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto map = std::make_shared<const MappedFile>(path);
  SafetensorsFile f = parse(map->bytes(), path);
  f.map_ = std::move(map);
  return f;
}

const StTensor* SafetensorsFile::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::release(const StTensor& t) const {
  if (map_ && t.nbytes) map_->release(static_cast<size_t>(t.data - map_->data()), t.nbytes);
}

void SafetensorsFile::release(const StTensor& t, uint64_t offset, uint64_t length) const {
  if (!map_ || offset >= t.nbytes) return;
  length = std::min(length, t.nbytes - offset);
  map_->release(static_cast<size_t>(t.data - map_->data()) + offset, length);
}

}  // namespace lp::formats
