// `detect MODEL [--json]`: architecture report of a Hugging Face checkpoint folder or a bare config.json
// (family, attention layout, experts, parameter counts, native quantization, recommended strategy).
#include <cstdio>
#include <string>

#include "arch/arch.h"
#include "common/command.h"
#include "formats/checkpoint.h"
#include "hub/hub.h"

namespace {

lp::app::RegisterCommand reg{{
    "detect",
    "Detect the architecture of a Hugging Face checkpoint (folder or config.json) and recommend a strategy",
    [](CLI::App& sub) {
      auto model = std::make_shared<std::string>();
      auto json = std::make_shared<bool>(false);
      sub.add_option("MODEL", *model, "checkpoint folder, or a config.json (parameters then follow from the config)")
          ->required();
      sub.add_flag("--json", *json, "print the report as JSON");
      return [model, json] {
        const auto report = lp::arch::detect(lp::formats::Checkpoint::open(lp::hub::resolve_model(*model)));
        const std::string out = *json ? lp::arch::to_json(report).dump(2) + "\n" : lp::arch::to_text(report);
        std::fputs(out.c_str(), stdout);
        return 0;
      };
    },
}};

}  // namespace
