// The evaluation corpus: the built-in text (data/eval/corpus.txt, compiled in; prose, code, dialogue and
// some multilingual text, written for this project and kept apart from calibration data) or a user file.
#pragma once
#include <string>

namespace lp::eval {

struct Corpus {
  std::string name;    // "builtin" or the file path
  std::string text;
  std::string sha256;  // of text
};

Corpus builtin_corpus();
Corpus load_corpus(const std::string& path);  // empty path: builtin; throws lp::Error naming the file

}  // namespace lp::eval
