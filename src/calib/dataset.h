// Calibration data sets: `build-calibration` selects curated samples (data/calib/<domain>.jsonl, embedded
// in the library) plus user files, renders them to text (through the model's chat template when a model
// is given), splits them into train/test and writes DIR/{train,test}.jsonl, train.txt, test.txt and
// metadata.json. `load_calibration` reads such a DIR, or any .txt/.jsonl file or folder of them.
// See docs/CALIBRATION.md for the formats and rules.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/random.h"

namespace lp::calib {

// The built-in domains, in their canonical order.
const std::vector<std::string>& known_domains();

struct CalibrationSample {
  std::string id;      // "<domain>/<source id>" or "user/<file>#<n>"
  std::string domain;  // one of known_domains() or "user"
  std::string text;
  std::optional<int64_t> tokens;  // only when counted with a model's tokenizer
};

struct CalibrationSet {
  std::vector<CalibrationSample> samples;
  std::string origin;  // what was read, for messages

  std::vector<std::string> texts() const;
  int64_t total_chars() const;
};

// Reads calibration text from:
//   a build-calibration DIR (has metadata.json): its train split (train.jsonl);
//   FILE.jsonl: one sample per line, a JSON string or an object with a "text" string;
//   any other FILE: plain text, split into samples at runs of two or more empty lines;
//   a DIR without metadata.json: every *.txt / *.jsonl in it (not recursive), sorted by name.
// Throws lp::Error naming the path when it is unreadable, malformed or holds no text.
// dir_or_file may also be kBuiltinCalibration ("builtin"): every built-in sample, no file needed.
inline constexpr const char* kBuiltinCalibration = "builtin";
CalibrationSet load_calibration(const std::string& dir_or_file);

struct BuildOptions {
  std::string output;                      // DIR to create (or merge into)
  std::string model;                       // optional HF folder / .gguf: chat template + tokenizer
  std::vector<std::string> domains;        // empty = all known domains
  int64_t samples = 128;                   // built-in samples to select (balanced over the domains)
  int64_t context_length = 2048;           // with a model: samples are trimmed to this many tokens
  double split = 0.8;                      // train fraction, in (0, 1)
  uint64_t seed = 42;
  std::vector<std::string> extra;          // user files or folders, added as domain "user"
};

struct BuildResult {
  nlohmann::ordered_json metadata;  // the contents of DIR/metadata.json
  CalibrationSet train, test;
};

// Validates the options (one-line lp::Error naming the option), builds and writes atomically.
BuildResult build_calibration(const BuildOptions& options);

// Portable deterministic generator (core/random.h): identical sequences on every platform and library.
using lp::SplitMix64;

// Every built-in sample (all domains, canonical order), rendered as plain text without a model and
// normalized like build-calibration's: the candidate pool of expert-balanced calibration.
CalibrationSet builtin_calibration_samples();

// Plain-text rendering of a chat sample (used without --model): see docs/CALIBRATION.md.
std::string render_plain_chat(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools);

}  // namespace lp::calib
