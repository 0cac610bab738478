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
    PresetInfo{Preset::IQ3_M, "IQ3_M", GgmlType::IQ3_S, 27},
    PresetInfo{Preset::IQ3_S, "IQ3_S", GgmlType::IQ3_S, 26},
    PresetInfo{Preset::IQ3_XS, "IQ3_XS", GgmlType::IQ3_S, 22},
    PresetInfo{Preset::IQ3_XXS, "IQ3_XXS", GgmlType::IQ3_XXS, 23},
    PresetInfo{Preset::IQ2_M, "IQ2_M", GgmlType::IQ2_S, 29},
    PresetInfo{Preset::IQ2_S, "IQ2_S", GgmlType::IQ2_XS, 28},
    PresetInfo{Preset::IQ2_XS, "IQ2_XS", GgmlType::IQ2_XS, 20},
    PresetInfo{Preset::IQ2_XXS, "IQ2_XXS", GgmlType::IQ2_XXS, 19},
    PresetInfo{Preset::IQ1_M, "IQ1_M", GgmlType::IQ1_M, 31},
    PresetInfo{Preset::IQ1_S, "IQ1_S", GgmlType::IQ1_S, 24},
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

PrecisionRequest parse_precision(std::string_view text) {
  PrecisionRequest req;
  auto add_gguf = [&](const std::string& v, std::string_view item) {
    if (lower(v) == "auto") {
      req.gguf_auto = true;
      req.gguf.push_back(Preset::Q4_K_M);
      return;
    }
    auto p = preset_from_name(v);
    if (!p) {
      if (mlx_precision_from_name(v))
        fail("--precision: '{}' in '{}' is an MLX precision where a GGUF one is expected (GGUF:MLX, e.g. q4_k_m:4bit)", v, item);
      std::string names;
      for (const auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
      fail("--precision: unknown GGUF precision '{}' (known: {})", v, names);
    }
    req.gguf.push_back(*p);
  };
  auto add_mlx = [&](const std::string& v, std::string_view item) {
    auto p = mlx_precision_from_name(v);
    if (!p) {
      if (preset_from_name(v) || lower(v) == "auto")
        fail("--precision: '{}' in '{}' is a GGUF precision where an MLX one is expected (GGUF:MLX, e.g. q4_k_m:4bit)", v, item);
      fail("--precision: unknown MLX precision '{}' (use 2bit, 3bit, 4bit, 5bit, 6bit or 8bit, optional -g32/-g128, -pure)", v);
    }
    req.mlx.push_back(*p);
  };
  const std::string all = trim(text);
  if (all.empty()) fail("--precision: empty");
  for (const std::string& item : split(all, ',')) {
    if (item.empty()) fail("--precision: empty item in '{}'", text);
    const auto colon = item.find(':');
    if (colon != std::string::npos) {
      // GGUF:MLX pair; the old spelling "q4_k_m,q8_0:4bit,8bit" reads the same item by item.
      const std::string g = trim(std::string_view(item).substr(0, colon)), m = trim(std::string_view(item).substr(colon + 1));
      if (g.empty() || m.empty() || m.find(':') != std::string::npos)
        fail("--precision: '{}' is not GGUF:MLX (e.g. q4_k_m:4bit)", item);
      add_gguf(g, item);
      add_mlx(m, item);
      continue;
    }
    // One name: its format is inferred from the name (llama.cpp file types are GGUF, "<N>bit..." is MLX).
    if (mlx_precision_from_name(item)) add_mlx(item, item);
    else if (preset_from_name(item) || lower(item) == "auto") add_gguf(item, item);
    else {
      std::string names;
      for (const auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
      fail("--precision: unknown precision '{}' (GGUF: {}, auto; MLX: 2bit..8bit with optional -g32/-g128, -pure)", item, names);
    }
  }
  if (req.gguf_auto && req.gguf.size() > 1) fail("--precision: 'auto' cannot be combined with other GGUF precisions");
  return req;
}

PrecisionRequest parse_precision(std::string_view text, bool want_gguf, bool want_mlx) {
  PrecisionRequest req = parse_precision(text);
  auto names = [](const PrecisionRequest& r, bool gguf) {
    std::string s;
    if (gguf) {
      if (r.gguf_auto) return std::string("auto");
      for (Preset p : r.gguf) s += (s.empty() ? "" : ",") + preset_file_suffix(p);
    } else {
      for (const auto& m : r.mlx) s += (s.empty() ? "" : ",") + m.name();
    }
    return s;
  };
  if (!want_gguf && !req.gguf.empty())
    fail("--precision '{}' asks for GGUF {} but --formats has no gguf: add gguf to --formats, or leave --formats out "
         "(it follows --precision)", text, names(req, true));
  if (!want_mlx && !req.mlx.empty())
    fail("--precision '{}' asks for MLX {} but --formats has no mlx: add mlx to --formats, or leave --formats out "
         "(it follows --precision)", text, names(req, false));
  if (want_gguf && req.gguf.empty())
    fail("--formats asks for gguf but --precision '{}' names no GGUF precision: add one (e.g. q4_k_m:{})", text, names(req, false));
  if (want_mlx && req.mlx.empty())
    fail("--formats asks for mlx but --precision '{}' names no MLX precision: add one (e.g. {}:4bit)", text, names(req, true));
  return req;
}

}  // namespace lp::plan
