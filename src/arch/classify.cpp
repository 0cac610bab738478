// Checkpoint tensors -> roles, by matching them against the family's layout (layout.cpp). The layout is the
// single source of names and shapes, so classification, validation and parameter counts cannot disagree.
#include <fmt/ranges.h>

#include <map>
#include <set>

#include "arch/arch.h"
#include "arch/families/family.h"
#include "arch/layout.h"
#include "core/error.h"

namespace lp::arch {

namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) { return s.size() >= p.size() && s.substr(s.size() - p.size()) == p; }

std::string shape_text(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

}  // namespace

bool is_ignored_tensor(const HParams& hp, std::string_view name) {
  // Rotary caches some older checkpoints serialise; llama.cpp's converter skips them too.
  if (ends_with(name, "rotary_emb.inv_freq")) return true;
  // FP8 block scales belong to their weight (formats::Checkpoint::read_f32 applies them).
  if (hp.native_quant == NativeQuant::Fp8 && (ends_with(name, "_scale_inv") || ends_with(name, ".weight_scale")))
    return true;
  if (!detail::family_info(hp.family).wrapper_model_type.empty() && !hp.tensor_prefix.empty())
    return starts_with(name, "vision_tower.") || starts_with(name, "multi_modal_projector.") ||
           starts_with(name, "model.vision_tower.") || starts_with(name, "model.multi_modal_projector.") ||
           starts_with(name, "model.visual.") ||  // qwen35's vision tower
           starts_with(name, "model.audio_tower.") || starts_with(name, "model.embed_vision.") ||
           starts_with(name, "model.embed_audio.");  // gemma4's audio tower and multimodal embedders
  return false;
}

std::vector<TensorInfo> expected_tensors(const HParams& hp) {
  detail::LayoutOptions opt;
  opt.mxfp4_experts = detail::family_info(hp.family).native_mxfp4_experts && hp.native_quant == NativeQuant::Mxfp4;
  opt.lm_head = !hp.tied_embeddings;
  std::vector<TensorInfo> out;
  for (auto& t : detail::checkpoint_layout(hp, opt))
    if (!t.optional) out.push_back({t.hf_name, t.dtype, t.hf_shape});
  return out;
}

std::vector<TensorDesc> classify(const HParams& hp_in, const std::vector<TensorInfo>& tensors) {
  HParams hp = hp_in;
  if (!hp.tensor_prefix.empty())  // which of the two multimodal gemma3 namings this checkpoint uses
    for (const auto& t : tensors)
      if (starts_with(t.name, detail::kNewMultimodalPrefix)) hp.tensor_prefix = detail::kNewMultimodalPrefix;
  std::map<std::string_view, const TensorInfo*> present;
  bool has_blocks = false;
  // qwen35 multi-token-prediction block (mtp.fc, mtp.layers.N.*, mtp norms): not converted (as llama.cpp's
  // converter with --no-mtp), but its layer count must be the config's mtp_num_hidden_layers.
  const bool has_mtp = detail::family_info(hp.family).linear_attention;
  std::set<int> mtp_layers;
  bool any_mtp = false;
  for (const auto& t : tensors) {
    if (has_mtp && starts_with(t.name, "mtp.")) {
      any_mtp = true;
      constexpr std::string_view kLayers = "mtp.layers.";
      if (starts_with(t.name, kLayers)) {
        const size_t end = t.name.find('.', kLayers.size());
        const std::string idx = t.name.substr(kLayers.size(), end == std::string::npos ? std::string::npos : end - kLayers.size());
        if (idx.empty() || idx.find_first_not_of("0123456789") != std::string::npos || idx.size() > 6)
          fail("tensor '{}': unexpected MTP tensor name", t.name);
        mtp_layers.insert(std::stoi(idx));
      }
      continue;
    }
    if (is_ignored_tensor(hp, t.name)) continue;
    present[t.name] = &t;
    if (ends_with(t.name, "_blocks")) has_blocks = true;
  }
  if (has_mtp && (static_cast<int>(mtp_layers.size()) != hp.n_mtp_layers ||
                  (!mtp_layers.empty() && *mtp_layers.rbegin() != hp.n_mtp_layers - 1) || (any_mtp && hp.n_mtp_layers == 0)))
    fail("config field 'mtp_num_hidden_layers' is {} but the checkpoint has {} MTP layer(s) (mtp.layers.N.* tensors{})",
         hp.n_mtp_layers, mtp_layers.size(), any_mtp ? "" : "; no mtp.* tensors at all");
  if (detail::family_info(hp.family).native_mxfp4_experts && has_blocks && (hp.n_embd % 32 != 0 || hp.n_ff_expert % 32 != 0))
    fail("MXFP4 experts need hidden_size ({}) and intermediate_size ({}) to be multiples of 32", hp.n_embd, hp.n_ff_expert);

  detail::LayoutOptions opt;
  opt.mxfp4_experts = has_blocks;
  for (const auto& [name, info] : present)
    if (ends_with(name, ".mlp.experts.gate_up_proj") || ends_with(name, ".mlp.experts.down_proj")) opt.fused_experts = true;
  opt.lm_head = true;
  std::vector<TensorDesc> layout = detail::checkpoint_layout(hp, opt);
  std::set<std::string_view> known;
  for (const auto& d : layout) known.insert(d.hf_name);

  // Unknown names first: the most useful error when the config and the weights disagree.
  for (const auto& [name, info] : present)
    if (!known.count(name))
      fail("tensor '{}' is not part of a {} model with this config (model_type '{}', {} layers{})", name,
           family_name(hp.family), hp.model_type, hp.n_layer,
           hp.n_expert ? fmt::format(", {} experts", hp.n_expert) : std::string());

  std::vector<TensorDesc> out;
  out.reserve(present.size());
  for (auto& d : layout) {
    auto it = present.find(d.hf_name);
    if (it == present.end()) {
      if (d.role == Role::Output && hp.tied_embeddings) continue;  // tied: lm_head is optional
      if (d.optional) continue;
      fail("missing tensor '{}' ({} of {}{})", d.hf_name, role_name(d.role),
           d.layer >= 0 ? fmt::format("layer {}", d.layer) : std::string("the model"),
           d.expert >= 0 ? fmt::format(", expert {}", d.expert) : std::string());
    }
    const TensorInfo& t = *it->second;
    if (d.role == Role::SsmConv1d && t.shape.size() == 3 && d.hf_shape.size() == 3 && t.shape[0] == d.hf_shape[0] &&
        t.shape[2] != d.hf_shape[2])
      fail("tensor '{}' has conv kernel size {} but config field 'linear_conv_kernel_dim' is {}", t.name, t.shape[2],
           d.hf_shape[2]);
    if (t.shape != d.hf_shape)
      fail("tensor '{}' has shape {} but the config implies {}", t.name, shape_text(t.shape), shape_text(d.hf_shape));
    if ((d.part == Part::MxBlocks || d.part == Part::MxScales) && !t.dtype.empty() && t.dtype != "U8")
      fail("tensor '{}' holds MXFP4 {} and must be U8, not {}", t.name, part_name(d.part), t.dtype);
    d.dtype = t.dtype;
    out.push_back(std::move(d));
  }
  return out;
}

int64_t tensor_param_count(const TensorDesc& t) {
  int64_t n = 1;
  for (int64_t d : t.hf_shape) n *= d;
  switch (t.part) {
    case Part::MxBlocks: return n * 2;  // two 4-bit elements per byte
    case Part::MxScales: return 0;      // quantization metadata, not parameters
    default: return n;
  }
}

ParamCounts count_params(const HParams& hp, const std::vector<TensorDesc>& tensors) {
  ParamCounts c;
  for (const auto& t : tensors) {
    if (t.role == Role::Output && hp.tied_embeddings) continue;  // the same matrix as token_embd: count once
    int64_t n = tensor_param_count(t);
    c.total += n;
    if (t.role == Role::TokenEmbd || t.role == Role::PleEmbd) c.embedding += n;  // gemma4 PLE: a lookup table too
    if (role_is_routed_expert(t.role)) c.routed_expert += n;
  }
  c.active = c.total;
  if (hp.n_expert > 0) c.active = c.total - c.routed_expert + c.routed_expert * hp.n_expert_used / hp.n_expert;
  c.active_excl_embedding = c.active - c.embedding;
  return c;
}

}  // namespace lp::arch
