#include "eval/corpus.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "core/sha256.h"

namespace lp::eval {

namespace detail {
extern const unsigned char kBuiltinCorpus[];
extern const size_t kBuiltinCorpusSize;
}  // namespace detail

Corpus builtin_corpus() {
  Corpus c;
  c.name = "builtin";
  c.text.assign(reinterpret_cast<const char*>(detail::kBuiltinCorpus), detail::kBuiltinCorpusSize);
  c.sha256 = sha256_hex(c.text);
  return c;
}

Corpus load_corpus(const std::string& path) {
  if (path.empty()) return builtin_corpus();
  std::optional<std::string> text = try_read_file(path);
  if (!text) fail("{}: cannot open corpus file", path);
  Corpus c;
  c.name = path;
  c.text = std::move(*text);
  if (c.text.empty()) fail("{}: corpus file is empty", path);
  c.sha256 = sha256_hex(c.text);
  return c;
}

}  // namespace lp::eval
