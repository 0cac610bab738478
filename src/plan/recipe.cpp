#include "plan/recipe.h"

#include <yaml-cpp/yaml.h>

#include "core/error.h"

namespace lp::plan {

GgmlType parse_ggml_type(const std::string& text, const std::string& what) {
  auto t = ggml_type_from_name(text);
  if (!t) fail("{}: unknown tensor type '{}' (examples: q4_k, q6_k, q8_0, iq4_xs, f16)", what, text);
  return *t;
}

TypeOverride parse_type_override(const std::string& text) {
  auto eq = text.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    fail("--tensor-type: '{}' is not REGEX=TYPE (e.g. attn_v=q8_0)", text);
  return {text.substr(0, eq), parse_ggml_type(text.substr(eq + 1), "--tensor-type " + text)};
}

BitsOverride parse_bits_override(const std::string& text) {
  auto eq = text.rfind('=');
  if (eq == std::string::npos) fail("--mlx-bits: '{}' is not REGEX=BITS", text);
  try {
    return {text.substr(0, eq), std::stoi(text.substr(eq + 1))};
  } catch (const std::exception&) {
    fail("--mlx-bits: '{}' is not REGEX=BITS", text);
  }
}

PrecisionChoice resolve_precision_flags(const PrecisionFlags& f, bool want_gguf, bool want_mlx) {
  PrecisionChoice c;
  if (!f.recipe.empty()) c.recipe = load_recipe(f.recipe);
  const Recipe& r = c.recipe;
  c.precision = f.precision;
  if (c.precision.empty()) {
    const std::string g = want_gguf ? r.gguf_precision.value_or("") : "", m = want_mlx ? r.mlx_precision.value_or("") : "";
    if (!g.empty() && !m.empty()) c.precision = g + ":" + m;
    else c.precision = g.empty() ? m : g;
  }
  c.architecture_aware = f.no_architecture_aware ? false : r.architecture_aware.value_or(true);
  for (const auto& t : f.tensor_types) c.tensor_types.push_back(parse_type_override(t));
  c.tensor_types.insert(c.tensor_types.end(), r.tensor_types.begin(), r.tensor_types.end());
  c.output_type = f.output_type.empty() ? r.output_type : parse_ggml_type(f.output_type, "--output-tensor-type");
  c.token_embedding_type = f.token_embedding_type.empty() ? r.token_embedding_type
                                                          : parse_ggml_type(f.token_embedding_type, "--token-embedding-type");
  for (const auto& b : f.mlx_bits) c.mlx_overrides.push_back(parse_bits_override(b));
  c.mlx_overrides.insert(c.mlx_overrides.end(), r.mlx_overrides.begin(), r.mlx_overrides.end());
  c.embedding_bits = r.embedding_bits.value_or(f.embedding_bits);
  return c;
}

PlanSettings plan_settings(const PrecisionChoice& c) {
  PlanSettings s;
  s.architecture_aware = c.architecture_aware;
  s.tensor_types = c.tensor_types;
  s.output_type = c.output_type;
  s.token_embedding_type = c.token_embedding_type;
  s.mlx_overrides = c.mlx_overrides;
  s.embedding_bits = c.embedding_bits;
  return s;
}

GgufPlanOptions gguf_plan_options(const PlanSettings& s, Preset preset) {
  GgufPlanOptions o;
  o.preset = preset;
  o.architecture_aware = s.architecture_aware;
  o.overrides = s.tensor_types;
  o.output_type = s.output_type;
  o.token_embd_type = s.token_embedding_type;
  o.has_imatrix = s.has_imatrix;
  o.assigned = s.assigned;
  o.label = s.label;
  return o;
}

MlxPlanOptions mlx_plan_options(const PlanSettings& s, const MlxPrecision& precision) {
  MlxPlanOptions o;
  o.precision = precision;
  o.embedding_bits = s.embedding_bits;
  o.architecture_aware = s.architecture_aware;
  o.overrides = s.mlx_overrides;
  return o;
}

GgufPlanOptions gguf_plan_options(const PrecisionChoice& c, Preset preset) { return gguf_plan_options(plan_settings(c), preset); }

namespace {

template <typename T>
T scalar(const YAML::Node& node, const std::string& path, const std::string& field) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    fail("{}: field '{}' has the wrong type", path, field);
  }
}

}  // namespace

Recipe load_recipe(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    fail("{}: cannot read recipe file", path);
  } catch (const YAML::Exception& e) {
    fail("{}: not valid YAML/JSON: {}", path, e.msg);
  }
  if (!root.IsMap()) fail("{}: a recipe must be a mapping (see docs/PLAN.md)", path);
  Recipe r;
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (key == "architecture_aware") {
      r.architecture_aware = scalar<bool>(kv.second, path, key);
    } else if (key == "gguf") {
      if (!kv.second.IsMap()) fail("{}: field 'gguf' must be a mapping", path);
      for (const auto& g : kv.second) {
        const std::string gk = g.first.as<std::string>();
        const std::string field = "gguf." + gk;
        if (gk == "precision") {
          r.gguf_precision = scalar<std::string>(g.second, path, field);
        } else if (gk == "output_type") {
          r.output_type = parse_ggml_type(scalar<std::string>(g.second, path, field), path + ": " + field);
        } else if (gk == "token_embedding_type") {
          r.token_embedding_type = parse_ggml_type(scalar<std::string>(g.second, path, field), path + ": " + field);
        } else if (gk == "tensor_types") {
          if (g.second.IsMap()) {
            for (const auto& e : g.second)
              r.tensor_types.push_back({e.first.as<std::string>(),
                                        parse_ggml_type(scalar<std::string>(e.second, path, field), path + ": " + field)});
          } else if (g.second.IsSequence()) {
            for (const auto& e : g.second) {
              if (!e["pattern"] || !e["type"]) fail("{}: each entry of '{}' needs 'pattern' and 'type'", path, field);
              r.tensor_types.push_back({scalar<std::string>(e["pattern"], path, field + ".pattern"),
                                        parse_ggml_type(scalar<std::string>(e["type"], path, field + ".type"), path + ": " + field)});
            }
          } else {
            fail("{}: field '{}' must be a list or a mapping", path, field);
          }
        } else {
          fail("{}: unknown field '{}'", path, field);
        }
      }
    } else if (key == "mlx") {
      if (!kv.second.IsMap()) fail("{}: field 'mlx' must be a mapping", path);
      for (const auto& m : kv.second) {
        const std::string mk = m.first.as<std::string>();
        const std::string field = "mlx." + mk;
        if (mk == "precision") {
          r.mlx_precision = scalar<std::string>(m.second, path, field);
        } else if (mk == "embedding_bits") {
          r.embedding_bits = scalar<int>(m.second, path, field);
        } else if (mk == "overrides") {
          if (m.second.IsMap()) {
            for (const auto& e : m.second) r.mlx_overrides.push_back({e.first.as<std::string>(), scalar<int>(e.second, path, field)});
          } else if (m.second.IsSequence()) {
            for (const auto& e : m.second) {
              if (!e["pattern"] || !e["bits"]) fail("{}: each entry of '{}' needs 'pattern' and 'bits'", path, field);
              r.mlx_overrides.push_back({scalar<std::string>(e["pattern"], path, field + ".pattern"),
                                         scalar<int>(e["bits"], path, field + ".bits")});
            }
          } else {
            fail("{}: field '{}' must be a list or a mapping", path, field);
          }
        } else {
          fail("{}: unknown field '{}'", path, field);
        }
      }
    } else if (key == "validation") {
      if (!kv.second.IsMap()) fail("{}: field 'validation' must be a mapping", path);
      for (const auto& v : kv.second) {
        const std::string vk = v.first.as<std::string>();
        if (vk == "max_ppl_increase") r.max_ppl_increase = scalar<double>(v.second, path, "validation." + vk);
        else if (vk == "max_kld_mean") r.max_kld_mean = scalar<double>(v.second, path, "validation." + vk);
        else fail("{}: unknown field 'validation.{}' (known: max_ppl_increase, max_kld_mean)", path, vk);
      }
    } else {
      fail("{}: unknown field '{}' (known: architecture_aware, gguf, mlx, validation)", path, key);
    }
  }
  return r;
}

}  // namespace lp::plan
