#!/usr/bin/python3
"""PyTorch-side check of the "model that knows the answers" (scripts/train_eval_model.sh): scores a suite on the
trained weights (BF16 as stored, computed in float32) without our engine, so the C++ `evaluate` numbers of its F32
artifact have an independent reference.

- multiple_choice: log-likelihood as lm-evaluation-harness (context = question, continuation = choice as written;
  tokens = encode(question + choice)[len(encode(question)):]); acc and acc_norm (per UTF-8 byte).
- generate / tool_call: greedy reply to the ChatML prompt that scripts/render_suite_text.py trains on (for tool_call
  items the system turn with the generic tool list, as evaluate renders it for a template without tool support); numbers by the last number of the reply, strings after lower-casing
  and trimming, tool calls by the parsed {"tool_calls": [...]} JSON (name and arguments exactly equal).
Usage: check_eval_model.py MODEL_DIR [SUITE.jsonl] [--max-new 128]
Prints one line per category and the overall accuracy; --json for machines.
"""
import json, math, os, re, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
TOOLS = os.path.join(os.environ.get("LP_SHARED_FIXTURES", os.path.join(HERE, "..", "..", "shared", "fixtures")), "..", "tools")
sys.path.insert(0, TOOLS)
import torch  # noqa: E402
import train_tiny  # noqa: E402
from render_suite_text import chat, tool_system, LETTERS  # noqa: E402


def load(model_dir):
    c = json.load(open(os.path.join(model_dir, "config.json")))
    m = train_tiny.Model(c)
    with open(os.path.join(model_dir, "model.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n)); data = f.read()
    sd = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        sd[name[len("model."):]] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.bfloat16).float().view(t["shape"])
    m.load_state_dict(sd)
    m.eval()
    return m


def logprobs(model, ids):
    with torch.no_grad():
        return torch.log_softmax(model(torch.tensor([ids]))[0].float(), -1)


def greedy(model, tok, prompt, max_new, stop):
    ids = tok.encode(prompt)
    out = []
    with torch.no_grad():
        for _ in range(max_new):
            nxt = int(model(torch.tensor([ids]))[0, -1].argmax())
            if nxt in stop:
                break
            ids.append(nxt); out.append(nxt)
    inv = {v: k for k, v in tok.vocab.items()}
    u2b = {u: b for b, u in train_tiny.bytes_to_unicode().items()}
    spec = {v: k for k, v in tok.specials.items()}
    raw = b"".join(spec[i].encode() if i in spec else bytes(u2b[ch] for ch in inv[i]) for i in out)
    return raw.decode("utf-8", "replace")


def main(argv):
    as_json = "--json" in argv
    argv = [a for a in argv if a != "--json"]
    max_new = 128  # evaluate's default max_tokens
    if "--max-new" in argv:
        i = argv.index("--max-new"); max_new = int(argv[i + 1]); del argv[i:i + 2]
    model_dir = argv[0]
    suite = argv[1] if len(argv) > 1 else os.path.join(HERE, "..", "data", "eval", "suite.jsonl")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    tok = train_tiny.Tokenizer(os.path.join(model_dir, "tokenizer.json"))
    model = load(model_dir)
    stop = {tok.specials["<|im_end|>"], tok.specials["<|endoftext|>"]}
    cats, norm = {}, [0, 0]
    for line in open(suite, encoding="utf-8"):
        if not line.strip():
            continue
        it = json.loads(line)
        c = cats.setdefault(it["category"], [0, 0])
        c[1] += 1
        if it["type"] == "multiple_choice":
            q = tok.encode(it["question"])
            ll, per_byte = [], []
            for ch in it["choices"]:
                full = tok.encode(it["question"] + ch)
                lp = logprobs(model, full)
                s = sum(float(lp[p - 1, full[p]]) for p in range(len(q), len(full)))
                ll.append(s); per_byte.append(s / len(ch.encode("utf-8")))
            ok = max(range(len(ll)), key=ll.__getitem__) == it["answer"]
            norm[0] += max(range(len(ll)), key=per_byte.__getitem__) == it["answer"]; norm[1] += 1
        else:
            # the prompt the model was trained on (render_suite_text.py): tool_call items with the generic tool list
            turn = chat(tool_system(it) if it["type"] == "tool_call" else it.get("system"), it["question"], "")
            prompt = turn[: turn.rfind("<|im_start|>assistant\n") + len("<|im_start|>assistant\n")]
            reply = greedy(model, tok, prompt, max_new, stop).strip()
            a = it["answer"]
            if it["type"] == "tool_call":
                try:
                    call = json.loads(reply)["tool_calls"][0]
                    ok = call["name"] == a["name"] and call["arguments"] == a["arguments"]
                except (ValueError, KeyError, IndexError, TypeError):
                    ok = False
            elif isinstance(a, (int, float)):
                nums = re.findall(r"-?\d+(?:\.\d+)?", reply)
                ok = bool(nums) and math.isclose(float(nums[-1]), float(a), rel_tol=1e-6, abs_tol=1e-9)
            else:
                ok = reply.lower().strip(" .") == str(a).lower()
        c[0] += bool(ok)
    total = [sum(v[0] for v in cats.values()), sum(v[1] for v in cats.values())]
    if as_json:
        print(json.dumps({"categories": {k: {"correct": v[0], "total": v[1]} for k, v in cats.items()},
                          "overall": {"correct": total[0], "total": total[1]}, "mc_acc_norm": norm}))
        return 0
    for k, v in cats.items():
        print(f"{k:14s} {v[0]:3d}/{v[1]:3d} {100 * v[0] / v[1]:5.1f}%")
    print(f"{'overall':14s} {total[0]:3d}/{total[1]:3d} {100 * total[0] / total[1]:5.1f}%   (multiple choice acc_norm {norm[0]}/{norm[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
