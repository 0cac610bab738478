#!/usr/bin/env python3
"""Validate an evaluation suite in JSON Lines (docs/EVALUATION.md, "Suite format").

Usage: check_suite.py [SUITE.jsonl] [--min-items N] [--self-test]
Default suite: data/eval/suite.jsonl of this repository, which must hold >= 140 items across the six
categories. Exit 0 when valid; otherwise one line per problem, naming the line number and the field, exit 1.
--self-test feeds broken suites to the checker and fails unless each is rejected with the expected message
(so this test cannot pass by accepting everything).
"""
import json, os, sys, tempfile

CATEGORIES = ["knowledge", "math", "reasoning", "common_sense", "truthfulness", "tool_calling"]
TYPES = ["multiple_choice", "generate", "tool_call"]
KEYS = {"id", "category", "type", "question", "choices", "answer", "tools", "system"}


def check_tools(tools, where, errors):
    if not isinstance(tools, list) or not tools:
        errors.append(f"{where}: field 'tools' must be a non-empty list"); return set()
    names = set()
    for k, t in enumerate(tools):
        f = t.get("function") if isinstance(t, dict) else None
        if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(f, dict) \
                or not isinstance(f.get("name"), str) or not isinstance(f.get("parameters"), dict):
            errors.append(f"{where}: field 'tools[{k}]' is not an OpenAI function ({{type: function, function: {{name, parameters}}}})")
            continue
        names.add(f["name"])
    return names


def check(path, min_items, require_all_categories):
    errors, ids, per_cat = [], {}, {}
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for n, line in enumerate(lines, 1):
        where = f"{path}:{n}"
        if not line.strip():
            errors.append(f"{where}: empty line"); continue
        try:
            it = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{where}: not JSON ({e.msg})"); continue
        if not isinstance(it, dict):
            errors.append(f"{where}: not a JSON object"); continue
        for k in sorted(set(it) - KEYS):
            errors.append(f"{where}: unknown field '{k}'")
        for k in ("id", "category", "type", "question"):
            if not isinstance(it.get(k), str) or not it.get(k):
                errors.append(f"{where}: field '{k}' must be a non-empty string")
        if isinstance(it.get("id"), str):
            if it["id"] in ids:
                errors.append(f"{where}: field 'id' '{it['id']}' repeats line {ids[it['id']]}")
            ids.setdefault(it["id"], n)
        cat, typ, ans = it.get("category"), it.get("type"), it.get("answer")
        if isinstance(cat, str) and cat not in CATEGORIES:
            errors.append(f"{where}: field 'category' '{cat}' is not one of {', '.join(CATEGORIES)}")
        if isinstance(typ, str) and typ not in TYPES:
            errors.append(f"{where}: field 'type' '{typ}' is not one of {', '.join(TYPES)}")
        if "system" in it and not isinstance(it["system"], str):
            errors.append(f"{where}: field 'system' must be a string")
        if typ == "multiple_choice":
            ch = it.get("choices")
            if not isinstance(ch, list) or len(ch) < 2 or not all(isinstance(c, str) and c for c in ch):
                errors.append(f"{where}: field 'choices' must be a list of >= 2 non-empty strings")
            elif len(set(ch)) != len(ch):
                errors.append(f"{where}: field 'choices' has duplicates")
            elif not isinstance(ans, int) or isinstance(ans, bool) or not 0 <= ans < len(ch):
                errors.append(f"{where}: field 'answer' must be a choice index in [0, {len(ch) - 1}]")
        elif typ == "generate":
            if isinstance(ans, bool) or not isinstance(ans, (str, int, float)) or ans == "":
                errors.append(f"{where}: field 'answer' must be a non-empty string or a number")
            if cat == "math" and not (isinstance(ans, (int, float)) and not isinstance(ans, bool)):
                errors.append(f"{where}: field 'answer' of a math generate item must be a number")
            if "choices" in it:
                errors.append(f"{where}: field 'choices' belongs to multiple_choice items only")
        elif typ == "tool_call":
            names = check_tools(it.get("tools"), where, errors)
            if not isinstance(ans, dict) or set(ans) != {"name", "arguments"} \
                    or not isinstance(ans.get("name"), str) or not isinstance(ans.get("arguments"), dict):
                errors.append(f"{where}: field 'answer' must be {{\"name\", \"arguments\"}} with an object of arguments")
            elif names and ans["name"] not in names:
                errors.append(f"{where}: field 'answer.name' '{ans['name']}' is not one of the item's tools")
        if "tools" in it and typ != "tool_call":
            errors.append(f"{where}: field 'tools' belongs to tool_call items only")
        if isinstance(cat, str):
            per_cat[cat] = per_cat.get(cat, 0) + 1
    if len(lines) < min_items:
        errors.append(f"{path}: {len(lines)} items, fewer than {min_items}")
    if require_all_categories:
        for c in CATEGORIES:
            if per_cat.get(c, 0) == 0:
                errors.append(f"{path}: no item of category '{c}'")
    return errors, per_cat, len(lines)


def self_test():
    good = {"id": "a", "category": "math", "type": "generate", "question": "1+1?", "answer": 2}
    mc = {"id": "b", "category": "knowledge", "type": "multiple_choice", "question": "Q?", "choices": [" x", " y"], "answer": 1}
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    tc = {"id": "c", "category": "tool_calling", "type": "tool_call", "question": "Q", "tools": [tool], "answer": {"name": "f", "arguments": {}}}
    cases = [
        ([good, mc, tc], None),
        ([good, "{not json"], ":2: not JSON"),
        ([good, dict(mc, answer=2)], ":2: field 'answer' must be a choice index"),
        ([good, dict(mc, id="a")], ":2: field 'id' 'a' repeats line 1"),
        ([dict(good, category="poetry")], ":1: field 'category' 'poetry'"),
        ([dict(good, type="essay")], ":1: field 'type' 'essay'"),
        ([dict(good, answer="two")], ":1: field 'answer' of a math generate item must be a number"),
        ([dict(tc, answer={"name": "g", "arguments": {}})], ":1: field 'answer.name' 'g'"),
        ([dict(good, extra=1)], ":1: unknown field 'extra'"),
    ]
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        for k, (rows, expect) in enumerate(cases):
            p = os.path.join(d, f"s{k}.jsonl")
            with open(p, "w") as f:
                for r in rows:
                    f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
            errors, _, _ = check(p, 0, False)
            ok = (not errors) if expect is None else any(expect in e for e in errors)
            if not ok:
                failed += 1
                print(f"self-test case {k}: expected {expect!r}, got {errors}")
    print(f"self-test: {len(cases) - failed}/{len(cases)} cases behave")
    return 1 if failed else 0


def main(argv):
    if "--self-test" in argv:
        return self_test()
    min_items = 140
    if "--min-items" in argv:
        i = argv.index("--min-items"); min_items = int(argv[i + 1]); del argv[i:i + 2]
    paths = [a for a in argv if not a.startswith("--")]
    path = paths[0] if paths else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "eval", "suite.jsonl")
    errors, per_cat, n = check(path, min_items, True)
    for e in errors:
        print(e)
    if errors:
        return 1
    print(f"{os.path.basename(path)}: {n} items valid; " + ", ".join(f"{c} {per_cat.get(c, 0)}" for c in CATEGORIES))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
