#include "plan/preset.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "core/error.h"

namespace lp::plan {
namespace {

struct PresetInfo {
  Preset preset;
  const char* name;
  GgmlType base;
  uint32_t llama_ftype;  // llama.h enum llama_ftype
};

constexpr std::array kPresets = {
    PresetInfo{Preset::F32, "F32", GgmlType::F32, 0},
    PresetInfo{Preset::F16, "F16", GgmlType::F16, 1},
    PresetInfo{Preset::BF16, "BF16", GgmlType::BF16, 32},
    PresetInfo{Preset::Q8_0, "Q8_0", GgmlType::Q8_0, 7},
    PresetInfo{Preset::Q6_K, "Q6_K", GgmlType::Q6_K, 18},
    PresetInfo{Preset::Q5_K_M, "Q5_K_M", GgmlType::Q5_K, 17},
    PresetInfo{Preset::Q5_K_S, "Q5_K_S", GgmlType::Q5_K, 16},
    PresetInfo{Preset::Q4_K_M, "Q4_K_M", GgmlType::Q4_K, 15},
    PresetInfo{Preset::Q4_K_S, "Q4_K_S", GgmlType::Q4_K, 14},
    PresetInfo{Preset::Q3_K_L, "Q3_K_L", GgmlType::Q3_K, 13},
    PresetInfo{Preset::Q3_K_M, "Q3_K_M", GgmlType::Q3_K, 12},
    PresetInfo{Preset::Q3_K_S, "Q3_K_S", GgmlType::Q3_K, 11},
    PresetInfo{Preset::Q2_K, "Q2_K", GgmlType::Q2_K, 10},
    PresetInfo{Preset::IQ4_XS, "IQ4_XS", GgmlType::IQ4_XS, 30},
    PresetInfo{Preset::IQ4_NL, "IQ4_NL", GgmlType::IQ4_NL, 25},
    PresetInfo{Preset::Q4_0, "Q4_0", GgmlType::Q4_0, 2},
    PresetInfo{Preset::Q4_1, "Q4_1", GgmlType::Q4_1, 3},
    PresetInfo{Preset::Q5_0, "Q5_0", GgmlType::Q5_0, 8},
    PresetInfo{Preset::Q5_1, "Q5_1", GgmlType::Q5_1, 9},
    PresetInfo{Preset::MXFP4_MOE, "MXFP4_MOE", GgmlType::MXFP4, 38},
};

const PresetInfo& info(Preset p) {
  for (const auto& i : kPresets)
    if (i.preset == p) return i;
  fail("internal: unknown preset");
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    parts.push_back(trim(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start)));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

}  // namespace

std::optional<Preset> preset_from_name(std::string_view name) {
  std::string n = lower(trim(name));
  for (const auto& i : kPresets)
    if (lower(i.name) == n) return i.preset;
  return std::nullopt;
}

std::string preset_name(Preset p) { return info(p).name; }
std::string preset_file_suffix(Preset p) { return lower(info(p).name); }
GgmlType preset_base_type(Preset p) { return info(p).base; }
uint32_t preset_llama_ftype(Preset p) { return info(p).llama_ftype; }
bool preset_is_float(Preset p) { return p == Preset::F32 || p == Preset::F16 || p == Preset::BF16; }

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& i : kPresets) names.push_back(lower(i.name));
  return names;
}

std::string MlxPrecision::name() const {
  std::string n = std::to_string(bits) + "bit";
  if (group_size != 64) n += "-g" + std::to_string(group_size);
  n += mixed ? "-mixed" : "-pure";
  return n;
}

std::optional<MlxPrecision> mlx_precision_from_name(std::string_view name) {
  std::string n = lower(trim(name));
  MlxPrecision p;
  size_t pos = n.find("bit");
  if (pos == std::string::npos || pos == 0) return std::nullopt;
  try {
    p.bits = std::stoi(n.substr(0, pos));
  } catch (...) {
    return std::nullopt;
  }
  if (p.bits != 2 && p.bits != 3 && p.bits != 4 && p.bits != 5 && p.bits != 6 && p.bits != 8) return std::nullopt;
  for (const std::string& suffix : split(n.substr(pos + 3), '-')) {
    if (suffix.empty()) continue;
    if (suffix == "mixed") p.mixed = true;
    else if (suffix == "pure") p.mixed = false;
    else if (suffix.size() > 1 && suffix[0] == 'g') {
      try {
        p.group_size = std::stoi(suffix.substr(1));
      } catch (...) {
        return std::nullopt;
      }
      if (p.group_size != 32 && p.group_size != 64 && p.group_size != 128) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  return p;
}

PrecisionRequest parse_precision(std::string_view text, bool want_gguf, bool want_mlx) {
  PrecisionRequest req;
  std::string gguf_part, mlx_part;
  auto colon = text.find(':');
  if (colon != std::string_view::npos) {
    gguf_part = trim(text.substr(0, colon));
    mlx_part = trim(text.substr(colon + 1));
  } else if (want_gguf && want_mlx) {
    fail("--precision: '{}' names one format but both gguf and mlx were asked for; use GGUF:MLX, e.g. q4_k_m:4bit",
         text);
  } else if (want_gguf) {
    gguf_part = trim(text);
  } else {
    mlx_part = trim(text);
  }
  if (want_gguf) {
    if (gguf_part.empty()) fail("--precision: no GGUF precision in '{}'", text);
    for (const auto& v : split(gguf_part, ',')) {
      if (v == "auto" || v == "AUTO") {
        if (gguf_part.find(',') != std::string::npos) fail("--precision: 'auto' cannot be combined with other GGUF precisions");
        req.gguf_auto = true;
        req.gguf.push_back(Preset::Q4_K_M);
        continue;
      }
      auto p = preset_from_name(v);
      if (!p) {
        std::string names;
        for (const auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
        fail("--precision: unknown GGUF precision '{}' (known: {})", v, names);
      }
      req.gguf.push_back(*p);
    }
  }
  if (want_mlx) {
    if (mlx_part.empty()) fail("--precision: no MLX precision in '{}'", text);
    for (const auto& v : split(mlx_part, ',')) {
      auto p = mlx_precision_from_name(v);
      if (!p) fail("--precision: unknown MLX precision '{}' (use 2bit, 3bit, 4bit, 5bit, 6bit or 8bit, optional -g32/-g128, -pure)", v);
      req.mlx.push_back(*p);
    }
  }
  return req;
}

}  // namespace lp::plan
