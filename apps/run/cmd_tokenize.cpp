// `tokenize`: text -> token ids with the model's own tokenizer (tokenizer.json folder or GGUF).
// --lines tokenizes each line of --file separately (one output line each), which the peer tests use.
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/command.h"
#include "common/model_path.h"
#include "core/error.h"
#include "text/tokenizer/tokenizer.h"

namespace {

struct TokenizeOptions {
  std::string model, text, file;
  bool json = false, no_special = false, no_parse_special = false, lines = false, roundtrip = false;
};

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) lp::fail("{}: cannot open", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string render(const lp::text::Tokenizer& tok, std::string_view text, const TokenizeOptions& o) {
  lp::text::EncodeOptions eo;
  eo.add_special = !o.no_special;
  eo.parse_special = !o.no_parse_special;
  auto ids = tok.encode(text, eo);
  if (o.roundtrip) {
    nlohmann::json j{{"ids", ids}, {"decoded", tok.decode(ids, false)}, {"decoded_skip_special", tok.decode(ids, true)}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (o.json) return nlohmann::json(ids).dump();
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? " " : "") + std::to_string(ids[i]);
  return out;
}

int run(const TokenizeOptions& o) {
  if (o.file.empty() && o.text.empty()) lp::fail("tokenize: give --text or --file");
  auto tok = lp::text::Tokenizer::load(lp::app::tool_model_path(o.model));
  std::string input = o.file.empty() ? o.text : read_all(o.file);
  std::string out;
  if (o.lines) {
    size_t pos = 0;
    while (pos < input.size()) {
      size_t nl = input.find('\n', pos);
      if (nl == std::string::npos) nl = input.size();
      out += render(tok, std::string_view(input).substr(pos, nl - pos), o);
      out += '\n';
      pos = nl + 1;
    }
  } else {
    out = render(tok, input, o) + "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

lp::app::RegisterCommand reg{{"tokenize", "Print the token ids of a text with the model's tokenizer",
                              [](CLI::App& sub) {
                                auto o = std::make_shared<TokenizeOptions>();
                                sub.add_option("-m,--model", o->model,
                                               "model: .gguf, pipeline output folder (manifest.json), HF or MLX folder, "
                                               "or a tokenizer folder (tokenizer.json)")
                                    ->required();
                                auto* t = sub.add_option("-p,--text,--prompt", o->text, "text to tokenize");
                                auto* f = sub.add_option("-f,--file", o->file, "file whose content is tokenized");
                                t->excludes(f);
                                sub.add_flag("--lines", o->lines, "tokenize each line of the input separately");
                                sub.add_flag("--json", o->json, "print a JSON array of ids (one per line with --lines)");
                                sub.add_flag("--no-special", o->no_special, "do not add BOS/EOS");
                                sub.add_flag("--no-parse-special", o->no_parse_special,
                                             "treat special tokens written in the text as plain text");
                                sub.add_flag("--roundtrip", o->roundtrip,
                                             "print JSON {ids, decoded, decoded_skip_special} per input");
                                return [o] { return run(*o); };
                              }}};

}  // namespace
