#include "writers/safetensors_writer.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/atomic_file.h"
#include "core/error.h"

namespace lp::writers {

namespace {
struct Entry {
  std::string name;
  StDtype dtype;
  std::vector<int64_t> shape;
  uint64_t nbytes = 0;
  uint64_t offset = 0;
};

uint64_t shape_bytes(const std::string& where, const std::string& name, StDtype dtype, const std::vector<int64_t>& shape) {
  uint64_t n = formats::st_dtype_size(dtype);
  for (int64_t d : shape) {
    if (d < 0) fail("{}: tensor '{}': negative dimension {}", where, name, d);
    if (d != 0 && n > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d))
      fail("{}: tensor '{}': size overflows", where, name);
    n *= static_cast<uint64_t>(d);
  }
  return n;
}
}  // namespace

struct SafetensorsWriter::Impl {
  std::filesystem::path path;
  std::map<std::string, std::string> metadata;
  std::vector<Entry> entries;
  std::unordered_map<std::string, size_t> by_name;
  std::unique_ptr<AtomicFile> out;
  uint64_t data_start = 0;
  size_t current = 0;      // index of the tensor being written
  uint64_t written = 0;    // bytes of the current tensor written so far
  bool begun = false, finished = false;

  std::string where() const { return path.string(); }
  void skip_empty() {
    while (current < entries.size() && written == entries[current].nbytes) {
      ++current;
      written = 0;
    }
  }
};

SafetensorsWriter::SafetensorsWriter(std::filesystem::path path, std::map<std::string, std::string> metadata)
    : impl_(std::make_unique<Impl>()) {
  impl_->path = std::move(path);
  impl_->metadata = std::move(metadata);
}
SafetensorsWriter::~SafetensorsWriter() = default;
SafetensorsWriter::SafetensorsWriter(SafetensorsWriter&&) noexcept = default;
SafetensorsWriter& SafetensorsWriter::operator=(SafetensorsWriter&&) noexcept = default;

void SafetensorsWriter::add(const std::string& name, StDtype dtype, std::vector<int64_t> shape) {
  Impl& m = *impl_;
  if (m.begun) fail("{}: tensor '{}' added after begin()", m.where(), name);
  if (name.empty() || name == "__metadata__") fail("{}: invalid tensor name '{}'", m.where(), name);
  if (m.by_name.count(name)) fail("{}: duplicate tensor '{}'", m.where(), name);
  Entry e{name, dtype, std::move(shape), 0, 0};
  e.nbytes = shape_bytes(m.where(), name, dtype, e.shape);
  m.by_name[name] = m.entries.size();
  m.entries.push_back(std::move(e));
}

void SafetensorsWriter::begin() {
  Impl& m = *impl_;
  if (m.begun) fail("{}: begin() called twice", m.where());
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!m.metadata.empty()) header["__metadata__"] = m.metadata;
  uint64_t offset = 0;
  for (auto& e : m.entries) {
    e.offset = offset;
    offset += e.nbytes;
    header[e.name] = {{"dtype", formats::st_dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {e.offset, offset}}};
  }
  std::string text = header.dump();
  // Pad with spaces so the data buffer starts 8-byte aligned (what the reference implementation does).
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t len = text.size();
  m.out = std::make_unique<AtomicFile>(m.path);
  m.out->write(&len, 8);
  m.out->write(text);
  m.data_start = 8 + len;
  m.begun = true;
  m.skip_empty();
}

void SafetensorsWriter::write_tensor_data(const std::string& name, const void* data, size_t size) {
  Impl& m = *impl_;
  if (!m.begun || m.finished) fail("{}: write_tensor_data('{}') outside begin()/finish()", m.where(), name);
  if (m.current >= m.entries.size()) fail("{}: tensor '{}': all tensors are already written", m.where(), name);
  Entry& e = m.entries[m.current];
  if (e.name != name) fail("{}: tensor '{}' written out of order (expected '{}')", m.where(), name, e.name);
  if (size > e.nbytes - m.written)
    fail("{}: tensor '{}': {} bytes written, more than its {} bytes", m.where(), name, m.written + size, e.nbytes);
  m.out->write(data, size);
  m.written += size;
  m.skip_empty();
}

void SafetensorsWriter::finish() {
  Impl& m = *impl_;
  if (!m.begun) fail("{}: finish() before begin()", m.where());
  if (m.finished) return;
  if (m.current < m.entries.size())
    fail("{}: tensor '{}' incomplete at finish ({} of {} bytes)", m.where(), m.entries[m.current].name, m.written,
         m.entries[m.current].nbytes);
  m.out->commit();
  m.finished = true;
}

uint64_t SafetensorsWriter::tensor_bytes(const std::string& name) const {
  const auto it = impl_->by_name.find(name);
  if (it == impl_->by_name.end()) fail("{}: unknown tensor '{}'", impl_->where(), name);
  return impl_->entries[it->second].nbytes;
}

uint64_t SafetensorsWriter::total_data_bytes() const {
  uint64_t n = 0;
  for (const auto& e : impl_->entries) n += e.nbytes;
  return n;
}

size_t SafetensorsWriter::tensor_count() const { return impl_->entries.size(); }
const std::filesystem::path& SafetensorsWriter::path() const { return impl_->path; }

// ---- sharded ----

struct ShardedSafetensorsWriter::Impl {
  std::filesystem::path dir;
  uint64_t max_shard_bytes;
  std::map<std::string, std::string> metadata;
  std::string stem;
  bool always_index;
  std::vector<Entry> entries;
  std::unordered_map<std::string, size_t> shard_of;  // tensor -> shard index
  std::vector<SafetensorsWriter> shards;
  std::vector<std::string> shard_names;
  bool begun = false;
};

ShardedSafetensorsWriter::ShardedSafetensorsWriter(std::filesystem::path dir, uint64_t max_shard_bytes,
                                                   std::map<std::string, std::string> metadata, std::string stem,
                                                   bool always_index)
    : impl_(std::make_unique<Impl>()) {
  impl_->dir = std::move(dir);
  impl_->max_shard_bytes = max_shard_bytes;
  impl_->metadata = std::move(metadata);
  impl_->stem = std::move(stem);
  impl_->always_index = always_index;
}
ShardedSafetensorsWriter::~ShardedSafetensorsWriter() = default;

void ShardedSafetensorsWriter::add(const std::string& name, StDtype dtype, std::vector<int64_t> shape) {
  Impl& m = *impl_;
  if (m.begun) fail("{}: tensor '{}' added after begin()", m.dir.string(), name);
  if (m.shard_of.count(name)) fail("{}: duplicate tensor '{}'", m.dir.string(), name);
  Entry e{name, dtype, std::move(shape), 0, 0};
  e.nbytes = shape_bytes(m.dir.string(), name, dtype, e.shape);
  m.shard_of[name] = 0;
  m.entries.push_back(std::move(e));
}

void ShardedSafetensorsWriter::begin() {
  Impl& m = *impl_;
  if (m.begun) fail("{}: begin() called twice", m.dir.string());
  std::filesystem::create_directories(m.dir);
  // Greedy packing in declaration order, so reading shard by shard stays sequential.
  std::vector<size_t> shard_index(m.entries.size());
  size_t n_shards = 1;
  uint64_t in_shard = 0;
  bool shard_empty = true;
  for (size_t i = 0; i < m.entries.size(); ++i) {
    if (!shard_empty && in_shard + m.entries[i].nbytes > m.max_shard_bytes) {
      ++n_shards;
      in_shard = 0;
    }
    shard_index[i] = n_shards - 1;
    in_shard += m.entries[i].nbytes;
    shard_empty = false;
  }
  const bool single = n_shards == 1 && !m.always_index;
  for (size_t s = 0; s < n_shards; ++s)
    m.shard_names.push_back(single ? m.stem + ".safetensors"
                                   : fmt::format("{}-{:05d}-of-{:05d}.safetensors", m.stem, s + 1, n_shards));
  for (size_t s = 0; s < n_shards; ++s) m.shards.emplace_back(m.dir / m.shard_names[s], m.metadata);
  for (size_t i = 0; i < m.entries.size(); ++i) {
    const Entry& e = m.entries[i];
    m.shard_of[e.name] = shard_index[i];
    m.shards[shard_index[i]].add(e.name, e.dtype, e.shape);
  }
  for (auto& s : m.shards) s.begin();
  m.begun = true;
}

void ShardedSafetensorsWriter::write_tensor_data(const std::string& name, const void* data, size_t size) {
  Impl& m = *impl_;
  if (!m.begun) fail("{}: write_tensor_data('{}') before begin()", m.dir.string(), name);
  const auto it = m.shard_of.find(name);
  if (it == m.shard_of.end()) fail("{}: unknown tensor '{}'", m.dir.string(), name);
  m.shards[it->second].write_tensor_data(name, data, size);
}

void ShardedSafetensorsWriter::finish() {
  Impl& m = *impl_;
  if (!m.begun) fail("{}: finish() before begin()", m.dir.string());
  for (auto& s : m.shards) s.finish();
  if (m.shards.size() > 1 || m.always_index) {
    nlohmann::ordered_json index;
    uint64_t total = 0;
    for (const auto& e : m.entries) total += e.nbytes;
    index["metadata"] = {{"total_size", total}};
    nlohmann::ordered_json wm = nlohmann::ordered_json::object();
    std::vector<std::string> names;
    for (const auto& e : m.entries) names.push_back(e.name);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) wm[n] = m.shard_names[m.shard_of[n]];
    index["weight_map"] = wm;
    write_file_atomic(m.dir / (m.stem + ".safetensors.index.json"), index.dump(2) + "\n");
  }
}

size_t ShardedSafetensorsWriter::shard_count() const { return impl_->shards.size(); }

std::vector<std::filesystem::path> ShardedSafetensorsWriter::files() const {
  std::vector<std::filesystem::path> out;
  for (const auto& n : impl_->shard_names) out.push_back(impl_->dir / n);
  if (impl_->shards.size() > 1 || impl_->always_index) out.push_back(impl_->dir / (impl_->stem + ".safetensors.index.json"));
  return out;
}

}  // namespace lp::writers
