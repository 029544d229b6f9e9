#!/usr/bin/env python3
"""Trains cryptogen's default model: a small GPT-2-architecture decoder with
the GPT-2 tokenizer, on WikiText-2 valid + PTB valid (the test splits stay
for evaluation), and writes config.json + model.safetensors (float16, Hugging
Face GPT-2 names, Conv1D [in, out] layout, tied LM head).

Default corpus: TinyStories (`tinystories/train.txt`; `valid.txt` is held out),
so that the demo writes readable English. `--corpus wikitext` reproduces the
earlier WikiText-2 + PTB model.

Only the tokens that occur in the training text ("seen") get a softmax row
during training: that cuts the LM head's cost by ~5x, and the rows of the tied
embedding that no training token reaches would otherwise keep their random
initialisation and take a share of the probability mass at inference. After
training, `--unseen-steps` steps of full-vocabulary cross-entropy update only
the unseen rows, which pushes their logits down (measured: the printed mass).

Reproducible: fixed seeds, deterministic data order, one thread unless asked;
every hyper-parameter is an argument with its default printed at start.
Run with Debian's PyTorch: /usr/bin/python3 scripts/train_default_model.py"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_bpe import Tokenizer  # noqa: E402


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=2)
        q, k, v = (t.view(B, T, self.h, D // self.h).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D // self.h)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab, ctx, d, h, layers):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(ctx, d)
        self.h = nn.ModuleList(Block(d, h) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
        for b in self.h:  # GPT-2's scaled init of residual projections
            nn.init.normal_(b.c_proj.weight, std=0.02 / math.sqrt(2 * layers))
            nn.init.normal_(b.mlp_proj.weight, std=0.02 / math.sqrt(2 * layers))

    def hidden(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.h:
            x = b(x)
        return self.ln_f(x)

    def forward(self, idx, rows=None):
        w = self.wte.weight if rows is None else self.wte.weight[rows]
        return self.hidden(idx) @ w.T


def save_safetensors(model, path):
    """float16 safetensors with GPT-2 names; Linear weights transposed to Conv1D [in, out]."""
    t = {"wte.weight": model.wte.weight, "wpe.weight": model.wpe.weight,
         "ln_f.weight": model.ln_f.weight, "ln_f.bias": model.ln_f.bias}
    for i, b in enumerate(model.h):
        p = f"h.{i}."
        t[p + "ln_1.weight"], t[p + "ln_1.bias"] = b.ln_1.weight, b.ln_1.bias
        t[p + "attn.c_attn.weight"], t[p + "attn.c_attn.bias"] = b.c_attn.weight.T, b.c_attn.bias
        t[p + "attn.c_proj.weight"], t[p + "attn.c_proj.bias"] = b.c_proj.weight.T, b.c_proj.bias
        t[p + "ln_2.weight"], t[p + "ln_2.bias"] = b.ln_2.weight, b.ln_2.bias
        t[p + "mlp.c_fc.weight"], t[p + "mlp.c_fc.bias"] = b.c_fc.weight.T, b.c_fc.bias
        t[p + "mlp.c_proj.weight"], t[p + "mlp.c_proj.bias"] = b.mlp_proj.weight.T, b.mlp_proj.bias
    header, blobs, off = {}, [], 0
    for name in sorted(t):
        a = t[name].detach().contiguous().to(torch.float16).numpy().tobytes()
        header[name] = {"dtype": "F16", "shape": list(t[name].shape), "data_offsets": [off, off + len(a)]}
        blobs.append(a)
        off += len(a)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for a in blobs:
            f.write(a)


EOT = 50256


def load_corpus(a, tok):
    """Token ids of the training text; TinyStories' `<|endoftext|>` lines become token 50256."""
    if a.corpus == "wikitext":
        texts = [open(os.path.join(a.data, p), encoding="utf-8").read() for p in ("wikitext-2/valid.txt", "ptb/valid.txt")]
        return [i for t in texts for i in tok.encode(t)]
    text = open(os.path.join(a.data, "tinystories/train.txt"), encoding="utf-8").read()
    out = []
    for story in text.split("<|endoftext|>"):
        story = story.strip("\n")
        if story:
            out += tok.encode(story) + [EOT]
    return out


def unseen_mass(model, batch, unseen):
    with torch.no_grad():
        p = model(batch[:, :-1]).softmax(-1)
        return p[..., unseen].sum(-1).mean().item()


def suppress_unseen(model, ids, seen, a, g):
    """Full-vocabulary cross-entropy on training batches, gradients only into the unseen rows."""
    unseen = torch.ones(50257, dtype=torch.bool)
    unseen[seen] = False
    seq = min(a.seq, 128)
    starts = torch.randint(0, len(ids) - seq - 1, (a.batch,), generator=g)
    probe = torch.stack([ids[s:s + seq + 1] for s in starts])
    print(f"unseen tokens: {int(unseen.sum())}, their mean probability mass before: {unseen_mass(model, probe, unseen):.4f}", flush=True)
    rows = model.wte.weight.detach().clone()[unseen].requires_grad_(True)
    opt = torch.optim.Adam([rows], lr=1e-2)
    for step in range(a.unseen_steps):
        starts = torch.randint(0, len(ids) - seq - 1, (a.batch,), generator=g)
        batch = torch.stack([ids[s:s + seq + 1] for s in starts])
        with torch.no_grad():
            h = model.hidden(batch[:, :-1])
        w = model.wte.weight.detach().clone()
        w[unseen] = rows
        logits = h @ w.T
        loss = F.cross_entropy(logits.reshape(-1, 50257), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0 or step == a.unseen_steps - 1:
            print(f"unseen step {step} full-vocab loss {loss.item():.3f}", flush=True)
    with torch.no_grad():
        model.wte.weight[unseen] = rows.detach()
    print(f"unseen mass after: {unseen_mass(model, probe, unseen):.4f}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"))
    ap.add_argument("--corpus", choices=("tinystories", "wikitext"), default="tinystories")
    ap.add_argument("--unseen-steps", type=int, default=40, help="steps that push unseen tokens' logits down")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "models", "default"))
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=192)
    ap.add_argument("--heads", type=int, default=3)
    ap.add_argument("--positions", type=int, default=512)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=450)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=40)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="time a few steps and exit")
    a = ap.parse_args()
    print("hyper-parameters:", json.dumps(vars(a)), flush=True)
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    tok = Tokenizer(os.path.join(a.data, "gpt2-bpe/encoder.json"), os.path.join(a.data, "gpt2-bpe/vocab.bpe"))
    ids = torch.tensor(load_corpus(a, tok), dtype=torch.long)
    seen = torch.unique(torch.cat([ids, torch.tensor([EOT])]))
    remap = torch.full((50257,), -1, dtype=torch.long)
    remap[seen] = torch.arange(len(seen))
    print(f"training tokens: {len(ids)}, distinct: {len(seen)}", flush=True)
    model = GPT(50257, a.positions, a.width, a.heads, a.layers)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.95))
    g = torch.Generator().manual_seed(a.seed)
    n_win = (len(ids) - 1) // a.seq
    order = torch.randperm(n_win, generator=g)
    start, pos = time.time(), 0
    for step in range(a.steps):
        lr = a.lr * min(1.0, (step + 1) / a.warmup) * 0.5 * (1 + math.cos(math.pi * step / a.steps))
        for pg in opt.param_groups:
            pg["lr"] = lr
        rows = []
        for _ in range(a.batch):
            if pos == n_win:
                order, pos = torch.randperm(n_win, generator=g), 0
            s = int(order[pos]) * a.seq
            pos += 1
            rows.append(ids[s:s + a.seq + 1])
        batch = torch.stack(rows)
        logits = model(batch[:, :-1], seen)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), remap[batch[:, 1:]].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 20 == 0 or step == a.steps - 1:
            print(f"step {step} loss {loss.item():.3f} lr {lr:.2e} elapsed {time.time() - start:.0f}s", flush=True)
        if a.smoke and step == 4:
            print(f"smoke: {(time.time() - start) / 5:.2f} s/step")
            return
    suppress_unseen(model, ids, seen, a, g)
    os.makedirs(a.out, exist_ok=True)
    save_safetensors(model, os.path.join(a.out, "model.safetensors"))
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": a.layers, "n_head": a.heads,
           "n_embd": a.width, "n_positions": a.positions, "n_ctx": a.positions, "vocab_size": 50257,
           "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "bos_token_id": 50256,
           "eos_token_id": 50256, "tie_word_embeddings": True, "torch_dtype": "float16"}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    print(f"saved to {a.out} after {time.time() - start:.0f}s, final loss {loss.item():.3f}", flush=True)


if __name__ == "__main__":
    main()
