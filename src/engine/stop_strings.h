// Stop strings for streamed generation: text is released only once it cannot be the start of a stop
// string, and generation ends right before the first complete match (the match is not emitted).
#pragma once
#include <string>
#include <vector>

namespace lp::engine {

class StopStringFilter {
 public:
  StopStringFilter() = default;
  explicit StopStringFilter(std::vector<std::string> stops);
  std::string push(const std::string& piece);  // text safe to emit now
  std::string flush(const std::string& piece);  // end of generation: release everything held
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace lp::engine
