#!/usr/bin/env python3
"""An independent, straightforward GPT-2 forward pass in PyTorch (float32) that
reads config.json + model.safetensors by hand, for checking cryptogen's C
float reference and for perplexity evaluation. Run with /usr/bin/python3.

  gpt2_reference.py --model DIR --ids 15496,995 [--all]     logits as JSON
  gpt2_reference.py --model DIR --eval wikitext|ptb|lambada  perplexity / accuracy
"""
import argparse
import json
import math
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_bpe import Tokenizer  # noqa: E402

DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def load(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    raw = open(os.path.join(model_dir, "model.safetensors"), "rb").read()
    (hl,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hl])
    base = 8 + hl
    w = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        buf = bytearray(raw[base + a:base + b])
        w[name.removeprefix("transformer.")] = torch.frombuffer(buf, dtype=DT[t["dtype"]]).reshape(t["shape"]).float()
    return cfg, w


def forward(cfg, w, ids):
    """Logits for every position of ids (1-D list)."""
    d, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    T = len(ids)
    x = w["wte.weight"][ids] + w["wpe.weight"][:T]
    ln = lambda v, p: torch.nn.functional.layer_norm(v, (d,), w[p + ".weight"], w[p + ".bias"], eps)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for i in range(L):
        p = f"h.{i}."
        qkv = ln(x, p + "ln_1") @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (t.reshape(T, H, d // H).transpose(0, 1) for t in qkv.split(d, dim=1))
        att = ((q @ k.transpose(1, 2)) / math.sqrt(d // H)).masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(0, 1).reshape(T, d)
        x = x + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = ln(x, p + "ln_2") @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]
        h = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h ** 3)))
        x = x + h @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    return ln(x, "ln_f") @ w["wte.weight"].T


def ppl_stream(cfg, w, ids, ctx, stride):
    """Sliding-window perplexity: each token scored once, with up to ctx-1 tokens of context."""
    nll, count, prev = 0.0, 0, 0
    for start in range(0, len(ids) - 1, stride):
        end = min(start + ctx, len(ids))
        chunk = ids[start:end]
        logits = forward(cfg, w, chunk)
        first = max(prev - start, 0)  # positions already scored by the previous window
        lp = torch.log_softmax(logits[:-1], -1)
        tgt = torch.tensor(chunk[1:])
        sel = lp[torch.arange(len(chunk) - 1), tgt][max(first - 1, 0):]
        nll -= sel.sum().item()
        count += len(sel)
        prev = end
        if end == len(ids):
            break
        print(f"\r{end}/{len(ids)} tokens", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return math.exp(nll / count), count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(os.path.dirname(__file__), "..", "models", "default"))
    ap.add_argument("--ids")
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--eval", choices=["wikitext", "ptb", "lambada"])
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--stride", type=int, default=128)
    ap.add_argument("--limit", type=int, default=0, help="LAMBADA: first N passages (0 = all)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    cfg, w = load(a.model)
    with torch.no_grad():
        if a.ids:
            ids = [int(x) for x in a.ids.split(",")]
            lg = forward(cfg, w, ids)
            print(json.dumps(lg.tolist() if a.all else lg[-1].tolist()))
            return
        tok = Tokenizer(os.path.join(a.model, "vocab.json"), os.path.join(a.model, "merges.txt"))
        if a.eval in ("wikitext", "ptb"):
            path = os.path.join(a.data, "wikitext-2/test.txt" if a.eval == "wikitext" else "ptb/test.txt")
            ids = tok.encode(open(path, encoding="utf-8").read())
            ppl, n = ppl_stream(cfg, w, ids, a.ctx, a.stride)
            print(json.dumps({"set": a.eval, "split": "test", "tokens": n, "ctx": a.ctx, "stride": a.stride,
                              "perplexity": round(ppl, 3)}))
        else:
            lines = open(os.path.join(a.data, "lambada/lambada_test.jsonl"), encoding="utf-8").read().splitlines()
            if a.limit:
                lines = lines[:a.limit]
            correct, nll, ntok = 0, 0.0, 0
            for i, line in enumerate(lines):
                text = json.loads(line)["text"]
                ctx_text, last = text.rsplit(" ", 1)
                c_ids, t_ids = tok.encode(ctx_text), tok.encode(" " + last)
                ids = (c_ids + t_ids)[-cfg["n_positions"]:]
                lg = forward(cfg, w, ids)
                lp = torch.log_softmax(lg[-len(t_ids) - 1:-1], -1)
                nll -= sum(lp[j, t].item() for j, t in enumerate(t_ids))
                ntok += len(t_ids)
                correct += all(lp[j].argmax().item() == t for j, t in enumerate(t_ids))
                if i % 200 == 0:
                    print(f"\r{i}/{len(lines)}", end="", file=sys.stderr, flush=True)
            print(file=sys.stderr)
            print(json.dumps({"set": "lambada", "passages": len(lines), "last_word_accuracy": round(correct / len(lines), 4),
                              "last_word_perplexity": round(math.exp(nll / ntok), 3)}))


if __name__ == "__main__":
    main()
