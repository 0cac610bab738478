// The formats::Checkpoint entry points: turn the checkpoint's tensor table into neutral TensorInfo rows.
#include "arch/arch.h"
#include "formats/checkpoint.h"

namespace lp::arch {

namespace {

std::vector<TensorInfo> tensor_infos(const formats::Checkpoint& ckpt) {
  std::vector<TensorInfo> out;
  for (const auto& name : ckpt.tensor_names()) {
    const formats::StTensor& t = ckpt.tensor(name);
    out.push_back({name, formats::st_dtype_name(t.dtype), t.shape});
  }
  return out;
}

}  // namespace

std::vector<TensorDesc> classify(const HParams& hp, const formats::Checkpoint& ckpt) {
  return classify(hp, tensor_infos(ckpt));
}

ModelReport detect(const formats::Checkpoint& ckpt) {
  const std::string path = ckpt.path_of("config.json");
  if (!ckpt.has_weights()) return detect(ckpt.config(), path, nullptr);
  std::vector<TensorInfo> infos = tensor_infos(ckpt);
  return detect(ckpt.config(), path, &infos);
}

}  // namespace lp::arch
