// SHA-256 of a byte string, lower-case hex: identifies the evaluation corpus in validation reports.
#pragma once
#include <string>
#include <string_view>

namespace lp::eval {
std::string sha256_hex(std::string_view data);
}
