#!/usr/bin/python3
"""Second training phase of the "model that knows the answers" (scripts/train_eval_model.sh, docs/EVALUATION.md):
continues a train_tiny.py model from its saved weights on another text, so the answers get more exposures
without paying again for the first phase.

Usage: train_eval_more.py IN_DIR OUT_DIR --text FILE --steps N [--seq 1536] [--batch 2] [--lr 1e-3] [--seed 4321]
The learning rate warms up over 10 steps and decays by a cosine to a tenth (as train_tiny.py's schedule). AdamW
starts fresh (train_tiny.py does not save its state). OUT_DIR gets the same files as train_tiny.py writes, with
train.json listing both phases.
"""
import argparse, json, math, os, shutil, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from check_eval_model import load, train_tiny  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inp"); ap.add_argument("out")
    ap.add_argument("--text", required=True); ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--seq", type=int, default=1536); ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3); ap.add_argument("--seed", type=int, default=4321)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    tok = train_tiny.Tokenizer(os.path.join(a.inp, "tokenizer.json"))
    ids = tok.encode(open(a.text, encoding="utf-8").read())
    if len(ids) < a.seq + 2:
        sys.exit(f"train_eval_more.py: only {len(ids)} tokens in {a.text}; need more than --seq {a.seq}")
    data = torch.tensor(ids)
    model = load(a.inp)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.1)
    t0, loss = time.time(), None
    for step in range(a.steps):
        lr = a.lr * min(1.0, (step + 1) / 10) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        ix = torch.randint(0, len(data) - a.seq - 1, (a.batch,))
        x = torch.stack([data[i:i + a.seq] for i in ix]); y = torch.stack([data[i + 1:i + a.seq + 1] for i in ix])
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
        if step % 50 == 0 or step == a.steps - 1:
            print(f"phase 2 step {step} loss {loss.item():.3f} {time.time() - t0:.0f}s", flush=True)
    os.makedirs(a.out, exist_ok=True)
    train_tiny.write_safetensors(os.path.join(a.out, "model.safetensors"), model)
    for f in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(a.inp, f), os.path.join(a.out, f))
    first = json.load(open(os.path.join(a.inp, "train.json")))
    json.dump({"phases": [first, {"text": os.path.basename(a.text), "steps": a.steps, "seq": a.seq, "batch": a.batch,
                                  "lr": a.lr, "tokens": len(ids), "final_loss": loss.item(),
                                  "seconds": round(time.time() - t0)}],
               "steps": first.get("steps", 0) + a.steps, "final_loss": loss.item(),
               "seconds": first.get("seconds", 0) + round(time.time() - t0)},
              open(os.path.join(a.out, "train.json"), "w"), indent=2)
    print(f"saved {a.out} (final loss {loss.item():.3f})")


if __name__ == "__main__":
    main()
