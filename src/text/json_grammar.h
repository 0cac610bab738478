// Grammars for constrained decoding: a byte-level context-free grammar (alternatives of sequences of byte
// classes and rule references), the JSON-schema compiler that produces one, and an incremental matcher (the set
// of parse stacks reachable by the bytes so far, as llama.cpp's GBNF matcher keeps it).
//
// JSON schema keywords compiled (docs/SERVE.md, "Structured output"): type (string, number, integer, boolean,
// null, object, array, or a list of them), properties + required (properties in the schema's order, optional
// ones may be left out: pass the schema as ordered_json to keep the client's order; no additional properties are generated), items, minItems, maxItems, minLength,
// maxLength, enum, const, anyOf, $ref to #/$defs/... or #/definitions/..., and the annotations title,
// description, default, examples, $schema, $id, $comment, additionalProperties, strict. Any other keyword
// throws SchemaError naming it and where it is. Output is compact JSON (one optional space after ':' and ',').
#pragma once
#include <bitset>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lp::text {

class SchemaError : public std::runtime_error {
 public:
  SchemaError(std::string keyword, std::string path, const std::string& message)
      : std::runtime_error(message), keyword(std::move(keyword)), path(std::move(path)) {}
  std::string keyword;  // the offending keyword ("" when the schema is malformed otherwise)
  std::string path;     // JSON pointer of the schema node ("" = root)
};

class Grammar {
 public:
  struct Elem {
    enum Kind : uint8_t { Class, Ref, End } kind;
    uint32_t arg;  // Class: index into classes; Ref: rule id
  };
  using ByteClass = std::bitset<256>;
  using Seq = std::vector<Elem>;

  int add_rule();                                  // an empty rule (no alternatives yet)
  void add_alt(int rule, const Seq& seq);          // rule ::= ... | seq
  Elem cls(const ByteClass& c);
  Elem byte(unsigned char c);
  Elem ref(int rule) const { return {Elem::Ref, static_cast<uint32_t>(rule)}; }
  void literal(Seq& seq, std::string_view text);   // appends the bytes of text
  int literal_rule(std::string_view text);         // rule ::= "text"
  void set_root(int rule) { root_ = rule; }
  int root() const { return root_; }

  // Flattened form the matcher walks (built by finalize(); add no rules after it).
  void finalize();
  const std::vector<Elem>& code() const { return code_; }
  const std::vector<std::vector<uint32_t>>& alternatives() const { return alt_start_; }
  const ByteClass& byte_class(uint32_t i) const { return classes_[i]; }

 private:
  std::vector<std::vector<Seq>> rules_;
  std::vector<ByteClass> classes_;
  std::vector<Elem> code_;
  std::vector<std::vector<uint32_t>> alt_start_;  // rule -> start offsets in code_
  int root_ = -1;
};

// Compiles a JSON schema into `g` and returns the rule for a value matching it. Throws SchemaError.
int compile_json_schema(Grammar& g, const nlohmann::ordered_json& schema);
// Any JSON value / any JSON object (response_format json_object).
int json_value_rule(Grammar& g);
int json_object_rule(Grammar& g);

// Text that one unbounded JSON string body takes whole: well-formed UTF-8 characters, none of '"', '\' or
// a control character (each is one `char` of the string rule, so the matcher state inside the string is kept).
bool is_plain_string_text(std::string_view bytes);

// The incremental matcher: the parse stacks consistent with the bytes accepted so far.
class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const Grammar> g);
  // Feeds bytes; false (state unchanged) when the grammar does not allow them.
  bool accept(std::string_view bytes);
  // Would these bytes be allowed? (no state change)
  bool allows(std::string_view bytes) const;
  // The whole input so far is a complete sentence (generation may end here).
  bool can_end() const;
  // Nothing but the end may follow.
  bool must_end() const;
  // A canonical key of the current state (equal keys: equal futures).
  std::string state_key() const;

  // Low-level stepping for vocabulary walks: stacks after one byte (empty: rejected).
  using Stack = std::vector<uint32_t>;
  using Stacks = std::vector<Stack>;
  const Stacks& stacks() const { return stacks_; }
  void advance(const Stacks& in, unsigned char c, Stacks& out) const;
  const Grammar& grammar() const { return *g_; }

 private:
  void expand(Stack s, Stacks& out, int depth = 0) const;
  std::shared_ptr<const Grammar> g_;
  Stacks stacks_;
};

}  // namespace lp::text
