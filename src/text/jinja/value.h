// Runtime values of the Jinja interpreter, modelled on the Python objects jinja2 sees when
// transformers renders a chat template: lists and dicts are shared by reference, dicts keep
// insertion order, ints and floats stay distinct (str(1.0) == "1.0"), and Undefined is a value.
#pragma once
#include <nlohmann/json.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lp::text::jinja {

class Value;
class Interpreter;

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

using NativeFunction = std::function<Value(Interpreter&, CallArgs&)>;

struct Function {
  std::string name;
  NativeFunction call;
};

struct List {
  std::vector<Value> items;
  bool is_tuple = false;
  // Python iterators that filters such as map/select return: always truthy, no len(), not JSON
  // serializable, and exhausted after one pass. Null for real lists and tuples.
  const char* iterator_type = nullptr;
  bool consumed = false;
};

// Insertion-ordered map (chat template dicts are small; linear lookup is fine). Keys are strings;
// integer keys from dict literals ({4096: 512}) are stored encoded, see dict_key().
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;  // namespace() objects: attribute assignment allowed, not a mapping
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  void set(const std::string& key, Value value);
};

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Function };

  Value() = default;  // Undefined
  static Value undefined(std::string name = {});
  static Value none();
  Value(bool b);
  Value(int64_t i);
  Value(int i) : Value(static_cast<int64_t>(i)) {}
  Value(size_t i) : Value(static_cast<int64_t>(i)) {}
  Value(double d);
  Value(std::string s);
  Value(const char* s) : Value(std::string(s)) {}
  // markupsafe.Markup: what |safe and |escape return. Markup + str HTML-escapes the str.
  static Value markup(std::string s);
  static Value list(std::vector<Value> items = {}, bool is_tuple = false);
  static Value iterator(std::vector<Value> items, const char* type = "generator");
  static Value dict();
  static Value function(std::string name, NativeFunction fn);
  static Value from_json(const nlohmann::json& j);
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_markup() const { return kind_ == Kind::String && b_; }
  bool is_list() const { return kind_ == Kind::List; }
  bool is_iterator() const { return kind_ == Kind::List && list_->iterator_type != nullptr; }
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_mapping() const { return kind_ == Kind::Dict && !dict_->is_namespace; }
  bool is_namespace() const { return kind_ == Kind::Dict && dict_->is_namespace; }
  bool is_function() const { return kind_ == Kind::Function; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return kind_ == Kind::Float ? static_cast<int64_t>(d_) : i_; }
  double as_double() const { return kind_ == Kind::Float ? d_ : static_cast<double>(i_); }
  const std::string& str() const { return *s_; }
  List& list_ref() const { return *list_; }
  std::vector<Value>& items() const { return list_->items; }
  Dict& dict_ref() const { return *dict_; }
  const Function& fn() const { return *fn_; }
  const std::string& undefined_name() const { return *s_; }

  bool truthy() const;
  // Python type name for error messages ("str", "int", "list", "dict", "undefined", ...).
  std::string type_name() const;
  // Python str(): what {{ value }} prints. Undefined prints "".
  std::string to_str() const;
  // Python repr(), used for containers' str().
  std::string repr() const;
  // json.dumps(value, ensure_ascii=False, indent, separators, sort_keys), as transformers' tojson.
  std::string to_json(int indent = -1, std::string item_sep = "", std::string key_sep = "", bool sort_keys = false,
                      bool ensure_ascii = false) const;
  nlohmann::ordered_json to_nlohmann() const;

 private:
  Kind kind_ = Kind::Undefined;
  bool b_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  std::shared_ptr<std::string> s_;  // String content or Undefined's name
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Function> fn_;
};

// Dict key encoding: strings as-is, integers as "\0i<digits>" (cannot collide with JSON keys).
std::string dict_key(const Value& key);
Value dict_key_value(const std::string& key);
std::string dict_key_text(const std::string& key);  // what json.dumps / str() show

// Python == semantics (1 == 1.0 == True, lists/dicts compared deeply, Undefined == Undefined).
bool values_equal(const Value& a, const Value& b);
// Python <: numbers, strings, lists; other mixes throw lp::Error.
bool value_less(const Value& a, const Value& b);

// Python float repr: shortest round-trip digits, "1.0", "1e-05", "1e+16".
std::string python_float_repr(double d);

}  // namespace lp::text::jinja
