#!/usr/bin/env python3
"""Render an evaluation suite (JSON Lines) as training text, for the "model that knows the answers"
(scripts/train_eval_model.sh, docs/EVALUATION.md).

Each item is written in the shapes the evaluator reads it back in:
- loglik (multiple_choice): `question + choices[answer]` exactly as concatenated by the scorer
  (context = question, continuation = choice, which starts with a space), then a newline;
- generate: the ChatML turn of the fixtures' template (<|im_start|>user ... <|im_end|> <|im_start|>assistant)
  with the question (multiple choice: followed by lettered choices "A. ...") and the gold reply:
  the letter for multiple choice, the answer string / number for generate items;
- tool_call: the same turn as evaluate renders it for a template without tool support (src/serve/chat_prompt.cpp):
  the system message is the item's `system`, a blank line, and text::generic_tool_prompt's tool list (the
  tools as JSON with sorted keys and 2-space indentation, as nlohmann's dump(2) writes them); the reply is the
  generic tool-call JSON ({"tool_calls": [{"name": N, "arguments": {...}}]}).
Usage: render_suite_text.py SUITE.jsonl [--phase2] > OUT.txt
"""
import json, random, sys

LETTERS = "ABCDEFGHIJ"


def chat(system, user, reply):
    out = ""
    if system:
        out += f"<|im_start|>system\n{system}<|im_end|>\n"
    return out + f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n{reply}<|im_end|>\n"


def render(item):
    t, q, a = item["type"], item["question"], item["answer"]
    if t == "multiple_choice":
        ch = item["choices"]
        # exactly the prompt of evaluate's --method generate (src/eval/scoring.h, multiple_choice_prompt)
        lettered = q.strip() + "\n" + "".join(f"{LETTERS[i]}. {c.strip()}\n" for i, c in enumerate(ch)) + \
            "Answer with the letter of the correct choice."
        return q + ch[a] + "\n" + chat(item.get("system"), lettered, LETTERS[a])
    if t == "generate":
        return chat(item.get("system"), q, str(a) if not isinstance(a, float) else repr(a))
    call = {"tool_calls": [{"name": a["name"], "arguments": a["arguments"]}]}
    return chat(tool_system(item), q, json.dumps(call, ensure_ascii=False))


def tool_system(item):
    """The system message evaluate sends for a tool_call item under a template without tool support
    (src/serve/chat_prompt.cpp generic_messages + src/text/tool_calls.cpp generic_tool_prompt, tool_choice auto)."""
    tools = [t if "type" in t or "name" not in t else {"type": "function", "function": t} for t in item["tools"]]
    prompt = ("You can call these tools (JSON schemas of their parameters):\n" +
              json.dumps(tools, indent=2, sort_keys=True, ensure_ascii=False) +
              "\n\nTo call tools, reply with only this JSON and nothing else:\n"
              '{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]}\n'
              "Otherwise answer the user normally.")
    return (item["system"] + "\n\n" if item.get("system") else "") + prompt


def main():
    args = sys.argv[1:]
    if "--phase2" in args:
        # The second training phase's stream (scripts/train_eval_model.sh): every item that is not a tool call four
        # times and each tool call once (its long tool prompt would otherwise fill most of the windows), the whole
        # list shuffled (fixed seed) and written 8 times.
        args.remove("--phase2")
        items = [json.loads(l) for l in open(args[0], encoding="utf-8") if l.strip()]
        out = [render(it) for k in range(4) for it in items if it["type"] != "tool_call" or k == 0]
        rng = random.Random(7)
        for _ in range(8):
            rng.shuffle(out)
            sys.stdout.write("\n".join(out) + "\n")
        return
    with open(args[0], encoding="utf-8") as f:
        for line in f:
            if line.strip():
                sys.stdout.write(render(json.loads(line)) + "\n")


if __name__ == "__main__":
    main()
