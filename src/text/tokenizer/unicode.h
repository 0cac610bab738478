// UTF-8 helpers for the tokenizer: code point iteration, lossy decoding, GPT-2 byte<->char mapping,
// Unicode normalization (utf8proc) and the character classes Rust's `char` methods use.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace lp::text::uni {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when invalid/incomplete.
size_t valid_seq_len(std::string_view s, size_t i);
// Decodes the valid code point at s[i] (caller checked valid_seq_len > 0).
char32_t decode_at(std::string_view s, size_t i, size_t len);
void append_utf8(std::string& out, char32_t cp);

// Like Rust's from_utf8_lossy. When hold_incomplete is set, a truncated-but-valid tail is not replaced
// and its length is returned through `held` (streaming).
std::string lossy(std::string_view bytes, bool hold_incomplete = false, size_t* held = nullptr);

// GPT-2 byte-level alphabet: byte -> code point (printable stand-ins) and the reverse.
const std::array<std::string, 256>& byte_to_chars();
int char_to_byte(char32_t cp);  // -1 when the char is not in the alphabet

enum class NormForm { Nfc, Nfkc, Nfd, Nfkd };
std::string normalize(std::string_view s, NormForm form);
std::string to_lower(std::string_view s);

bool is_whitespace(char32_t cp);    // Unicode White_Space (Rust char::is_whitespace)
bool is_alphanumeric(char32_t cp);  // Rust char::is_alphanumeric (L* or N*)

}  // namespace lp::text::uni
