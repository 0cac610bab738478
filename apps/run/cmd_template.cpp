// `template`: renders a model's chat template for a conversation, exactly as transformers'
// apply_chat_template would (prints the prompt text, no tokenization).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "common/command.h"
#include "common/model_path.h"
#include "core/error.h"
#include "text/jinja/chat_template.h"
#include "text/jinja/template_source.h"

namespace {

using ojson = nlohmann::ordered_json;

ojson read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) lp::fail("{}: cannot open", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  try {
    return ojson::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    lp::fail("{}: invalid JSON: {}", path, e.what());
  }
}

std::string dump(const ojson& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// --var key=value: the value is JSON when it parses (true, 3, {"a":1}), a plain string otherwise.
void apply_vars(ojson& context, const std::vector<std::string>& vars) {
  for (const auto& kv : vars) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) lp::fail("--var {}: expected key=value", kv);
    std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    ojson parsed = ojson::parse(value, nullptr, false);
    context[key] = parsed.is_discarded() ? ojson(value) : parsed;
  }
}

// --batch FILE: [{"template_path": P | "template": SRC, "context": {...}}, ...] -> JSON array of
// {"output": text} or {"error": message}; one process for a whole peer-test matrix.
int run_batch(const std::string& path) {
  ojson jobs = read_json_file(path);
  if (!jobs.is_array()) lp::fail("{}: expected a JSON array of jobs", path);
  ojson results = ojson::array();
  std::map<std::string, std::shared_ptr<lp::text::ChatTemplate>> cache;
  for (const auto& job : jobs) {
    ojson result = ojson::object();
    try {
      std::string key;
      std::string source;
      if (job.contains("template_path")) {
        key = job["template_path"].get<std::string>();
        if (!cache.count(key)) source = lp::text::load_chat_template_source(key).source;
      } else {
        source = job.at("template").get<std::string>();
        key = "\x01" + source;
      }
      auto& tmpl = cache[key];
      if (!tmpl) tmpl = std::make_shared<lp::text::ChatTemplate>(source);
      result["output"] = tmpl->render_context(job.value("context", ojson::object()));
    } catch (const lp::Error& e) {
      result["error"] = e.what();
    } catch (const nlohmann::json::exception& e) {
      result["error"] = std::string("bad job: ") + e.what();
    }
    results.push_back(std::move(result));
  }
  std::cout << dump(results) << "\n";
  return 0;
}

lp::app::RegisterCommand reg{{"template", "Render a model's chat template for a conversation (messages JSON)",
                              [](CLI::App& sub) {
                                auto model = std::make_shared<std::string>();
                                auto messages = std::make_shared<std::string>();
                                auto tools = std::make_shared<std::string>();
                                auto batch = std::make_shared<std::string>();
                                auto vars = std::make_shared<std::vector<std::string>>();
                                auto add_generation_prompt = std::make_shared<bool>(false);
                                auto json = std::make_shared<bool>(false);
                                sub.add_option("-m,--model", *model,
                                               "model: .gguf, pipeline output folder (manifest.json), HF folder or "
                                               ".jinja file (required unless --batch)");
                                sub.add_option("--messages", *messages, "JSON file: array of {role, content, ...} (required unless --batch)");
                                sub.add_option("--tools", *tools, "JSON file: array of tool schemas");
                                sub.add_flag("--add-generation-prompt", *add_generation_prompt,
                                             "Append the assistant turn header");
                                sub.add_option("--var", *vars, "Extra template variable key=value (JSON value or string)");
                                sub.add_option("--batch", *batch,
                                               "Render many jobs: JSON array of {template_path|template, context}");
                                sub.add_flag("--json", *json, "Print {\"prompt\": ...} as JSON");
                                return [=]() -> int {
                                  if (!batch->empty()) return run_batch(*batch);
                                  if (model->empty()) lp::fail("template: give --model (or --batch)");
                                  if (messages->empty()) lp::fail("template: give --messages (or --batch)");
                                  auto src = lp::text::load_chat_template_source(lp::app::tool_model_path(*model));
                                  ojson msgs = read_json_file(*messages);
                                  if (!msgs.is_array()) lp::fail("{}: expected a JSON array of messages", *messages);
                                  ojson tool_list = tools->empty() ? ojson(nullptr) : read_json_file(*tools);
                                  ojson context = src.special_tokens();
                                  apply_vars(context, *vars);
                                  std::string prompt;
                                  try {
                                    lp::text::ChatTemplate tmpl(src.source);
                                    prompt = tmpl.render_ordered(msgs, tool_list, *add_generation_prompt, context);
                                  } catch (const lp::Error& e) {
                                    lp::fail("{}: {}", src.origin, e.what());
                                  }
                                  if (*json) {
                                    std::cout << dump(ojson{{"prompt", prompt}}) << "\n";
                                  } else {
                                    std::cout << prompt;
                                    std::cout.flush();
                                  }
                                  return 0;
                                };
                              }}};

}  // namespace
