// Typed reads of config.json fields with one-line errors naming the file and field (internal to the arch
// module; the family descriptions in families/ read their own fields through it).
#pragma once
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace lp::arch::detail {

struct ConfigReader {
  const nlohmann::json& cfg;
  const std::string& path;

  bool has(const char* key) const { return cfg.contains(key) && !cfg[key].is_null(); }

  int64_t integer(const char* key) const {
    if (!has(key)) fail("{}: missing required field '{}'", path, key);
    return as_int(key);
  }
  int64_t integer(const char* key, int64_t fallback) const { return has(key) ? as_int(key) : fallback; }
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!cfg[key].is_number()) fail("{}: field '{}' must be a number", path, key);
    return cfg[key].get<double>();
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!cfg[key].is_boolean()) fail("{}: field '{}' must be true or false", path, key);
    return cfg[key].get<bool>();
  }
  std::string string(const char* key, const std::string& fallback = "") const {
    if (!has(key)) return fallback;
    if (!cfg[key].is_string()) fail("{}: field '{}' must be a string", path, key);
    return cfg[key].get<std::string>();
  }
  // A non-negative int field (sizes, counts).
  int count(const char* key, int64_t fallback) const { return to_int(integer(key, fallback), key); }
  int count(const char* key) const { return to_int(integer(key), key); }
  int to_int(int64_t v, const char* key) const {
    if (v < 0 || v > (int64_t{1} << 31) - 1) fail("{}: field '{}' = {} is out of range", path, key, v);
    return static_cast<int>(v);
  }

 private:
  int64_t as_int(const char* key) const {
    const nlohmann::json& v = cfg[key];
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) return static_cast<int64_t>(v.get<double>());
    fail("{}: field '{}' must be an integer", path, key);
  }
};

}  // namespace lp::arch::detail
