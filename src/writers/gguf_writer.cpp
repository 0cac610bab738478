#include "writers/gguf_writer.h"

#include <limits>
#include <unordered_map>

#include "core/atomic_file.h"
#include "core/error.h"
#include "formats/gguf.h"

namespace lp::writers {

namespace {
template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
void put_string(std::string& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.append(s);
}
constexpr size_t kMaxNameLength = 63;  // GGML_MAX_NAME - 1
}  // namespace

void append_gguf_value(std::string& out, const GgufValue& v) {
  switch (v.type()) {
    case GgufType::STRING: put_string(out, v.as_string()); return;
    case GgufType::ARRAY: {
      put<uint32_t>(out, static_cast<uint32_t>(v.array_type()));
      put<uint64_t>(out, v.array_size());
      if (v.array_type() == GgufType::STRING) {
        for (const auto& s : v.strings()) put_string(out, s);
      } else if (v.array_type() == GgufType::ARRAY) {
        for (const auto& a : v.arrays()) append_gguf_value(out, a);
      } else {
        const auto& b = v.packed_bytes();
        out.append(reinterpret_cast<const char*>(b.data()), b.size());
      }
      return;
    }
    default: {
      const uint64_t bits = v.raw_bits();
      out.append(reinterpret_cast<const char*>(&bits), formats::gguf_scalar_size(v.type()));
    }
  }
}

struct GgufWriter::Impl {
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    uint64_t nbytes = 0;
    uint64_t offset = 0;
  };
  std::filesystem::path path;
  uint32_t alignment = 32;
  std::vector<std::pair<std::string, GgufValue>> kv;
  std::vector<Tensor> tensors;
  std::unordered_map<std::string, size_t> by_name;
  std::unique_ptr<AtomicFile> out;
  size_t current = 0;
  uint64_t written = 0;
  bool begun = false, finished = false;

  std::string where() const { return path.string(); }
  void advance() {
    while (current < tensors.size() && written == tensors[current].nbytes) {
      out->pad_to(alignment);
      ++current;
      written = 0;
    }
  }
};

GgufWriter::GgufWriter(std::filesystem::path path, uint32_t alignment) : impl_(std::make_unique<Impl>()) {
  impl_->path = std::move(path);
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    fail("{}: GGUF alignment {} is not a power of two", impl_->where(), alignment);
  impl_->alignment = alignment;
}
GgufWriter::~GgufWriter() = default;
GgufWriter::GgufWriter(GgufWriter&&) noexcept = default;
GgufWriter& GgufWriter::operator=(GgufWriter&&) noexcept = default;

void GgufWriter::set(const std::string& key, GgufValue value) {
  Impl& m = *impl_;
  if (m.begun) fail("{}: metadata '{}' set after begin()", m.where(), key);
  if (key == "general.alignment" && (value.type() != GgufType::UINT32 || value.as_u32() != m.alignment))
    fail("{}: general.alignment must be uint32 {} (the writer's alignment)", m.where(), m.alignment);
  for (auto& [k, v] : m.kv)
    if (k == key) {
      v = std::move(value);
      return;
    }
  m.kv.emplace_back(key, std::move(value));
}

bool GgufWriter::has(std::string_view key) const {
  for (const auto& [k, v] : impl_->kv)
    if (k == key) return true;
  return false;
}

void GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne) {
  Impl& m = *impl_;
  if (m.begun) fail("{}: tensor '{}' added after begin()", m.where(), name);
  if (name.empty() || name.size() > kMaxNameLength)
    fail("{}: tensor name '{}' must be 1..{} bytes (llama.cpp limit)", m.where(), name, kMaxNameLength);
  if (m.by_name.count(name)) fail("{}: duplicate tensor '{}'", m.where(), name);
  if (ne.empty() || ne.size() > 4) fail("{}: tensor '{}': {} dims (expected 1..4)", m.where(), name, ne.size());
  const auto& traits = ggml_traits(type);
  uint64_t rows = 1;
  for (size_t i = 0; i < ne.size(); ++i) {
    if (ne[i] < 0) fail("{}: tensor '{}': negative dimension", m.where(), name);
    if (i > 0) rows *= static_cast<uint64_t>(ne[i]);
  }
  if (ne[0] % traits.block_size != 0)
    fail("{}: tensor '{}': row length {} is not a multiple of the {} block size {}", m.where(), name, ne[0],
         traits.name, traits.block_size);
  Impl::Tensor t{name, type, std::move(ne), 0, 0};
  t.nbytes = ggml_row_bytes(type, static_cast<uint64_t>(t.ne[0])) * rows;
  m.by_name[name] = m.tensors.size();
  m.tensors.push_back(std::move(t));
}

uint64_t GgufWriter::tensor_bytes(const std::string& name) const {
  const auto it = impl_->by_name.find(name);
  if (it == impl_->by_name.end()) fail("{}: unknown tensor '{}'", impl_->where(), name);
  return impl_->tensors[it->second].nbytes;
}

namespace {
// Magic, version, counts and the key/value section of a GGUF header (the tensor infos follow).
template <class Kv>
std::string kv_block(size_t n_tensors, const Kv& kv) {
  std::string header;
  put<uint32_t>(header, formats::kGgufMagic);
  put<uint32_t>(header, 3);
  put<uint64_t>(header, n_tensors);
  put<uint64_t>(header, kv.size());
  for (const auto& [k, v] : kv) {
    put_string(header, k);
    put<uint32_t>(header, static_cast<uint32_t>(v.type()));
    append_gguf_value(header, v);
  }
  return header;
}
}  // namespace

uint64_t GgufWriter::header_bytes() const {
  const Impl& m = *impl_;
  // The header begin() will write: the same key/values, plus general.alignment if begin() adds it.
  std::string header = kv_block(m.tensors.size(), m.kv);
  if (m.alignment != formats::kGgufDefaultAlignment && !has("general.alignment")) {
    put_string(header, "general.alignment");
    put<uint32_t>(header, static_cast<uint32_t>(GgufType::UINT32));
    put<uint32_t>(header, m.alignment);
  }
  for (const auto& t : m.tensors) {
    put_string(header, t.name);
    put<uint32_t>(header, static_cast<uint32_t>(t.ne.size()));
    header.resize(header.size() + 8 * t.ne.size() + 4 + 8);
  }
  return (header.size() + m.alignment - 1) / m.alignment * m.alignment;
}

size_t GgufWriter::tensor_count() const { return impl_->tensors.size(); }
uint32_t GgufWriter::alignment() const { return impl_->alignment; }

void GgufWriter::begin() {
  Impl& m = *impl_;
  if (m.begun) fail("{}: begin() called twice", m.where());
  if (m.alignment != formats::kGgufDefaultAlignment && !has("general.alignment"))
    m.kv.emplace_back("general.alignment", GgufValue(m.alignment));
  std::string header = kv_block(m.tensors.size(), m.kv);
  uint64_t offset = 0;
  for (auto& t : m.tensors) {
    t.offset = offset;
    offset += (t.nbytes + m.alignment - 1) / m.alignment * m.alignment;
    put_string(header, t.name);
    put<uint32_t>(header, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<uint64_t>(header, static_cast<uint64_t>(d));
    put<uint32_t>(header, static_cast<uint32_t>(t.type));
    put<uint64_t>(header, t.offset);
  }
  m.out = std::make_unique<AtomicFile>(m.path);
  m.out->write(header.data(), header.size());
  m.out->pad_to(m.alignment);
  m.begun = true;
  m.advance();
}

void GgufWriter::write_tensor_data(const std::string& name, const void* data, size_t size) {
  Impl& m = *impl_;
  if (!m.begun || m.finished) fail("{}: write_tensor_data('{}') outside begin()/finish()", m.where(), name);
  if (m.current >= m.tensors.size()) fail("{}: tensor '{}': all tensors are already written", m.where(), name);
  const auto& t = m.tensors[m.current];
  if (t.name != name) fail("{}: tensor '{}' written out of order (expected '{}')", m.where(), name, t.name);
  if (size > t.nbytes - m.written)
    fail("{}: tensor '{}': {} bytes written, more than its {} bytes", m.where(), name, m.written + size, t.nbytes);
  m.out->write(data, size);
  m.written += size;
  m.advance();
}

void GgufWriter::finish() {
  Impl& m = *impl_;
  if (!m.begun) fail("{}: finish() before begin()", m.where());
  if (m.finished) return;
  if (m.current < m.tensors.size())
    fail("{}: tensor '{}' incomplete at finish ({} of {} bytes)", m.where(), m.tensors[m.current].name, m.written,
         m.tensors[m.current].nbytes);
  m.out->commit();
  m.finished = true;
}

const std::filesystem::path& GgufWriter::path() const { return impl_->path; }
uint64_t GgufWriter::bytes_written() const { return impl_->out ? impl_->out->offset() : 0; }

}  // namespace lp::writers
