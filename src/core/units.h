// Human-readable sizes and counts, both directions.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace lp {

// "4.7GB" (decimal), "512MiB" (binary), "123456" (bytes). Throws lp::Error naming `what` on bad input.
uint64_t parse_size(std::string_view text, std::string_view what = "size");
std::string format_bytes(uint64_t bytes);        // "4.70 GB" (decimal units, like file managers)
std::string format_count(uint64_t count);        // parameter counts: "8.2B", "30.5B", "596M", "4.2M"

}  // namespace lp
