#!/usr/bin/env python3
"""Trains cryptogen's default model: a small GPT-2-architecture decoder with
the GPT-2 tokenizer, on WikiText-2 valid + PTB valid (the test splits stay
for evaluation), and writes config.json + model.safetensors (float16, Hugging
Face GPT-2 names, Conv1D [in, out] layout, tied LM head).

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

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.h:
            x = b(x)
        return self.ln_f(x) @ self.wte.weight.T


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "models", "default"))
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=192)
    ap.add_argument("--heads", type=int, default=3)
    ap.add_argument("--positions", type=int, default=512)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=360)
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
    texts = [open(os.path.join(a.data, p), encoding="utf-8").read() for p in ("wikitext-2/valid.txt", "ptb/valid.txt")]
    ids = torch.tensor([i for t in texts for i in tok.encode(t)], dtype=torch.long)
    print(f"training tokens: {len(ids)}", flush=True)
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
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 20 == 0 or step == a.steps - 1:
            print(f"step {step} loss {loss.item():.3f} lr {lr:.2e} elapsed {time.time() - start:.0f}s", flush=True)
        if a.smoke and step == 4:
            print(f"smoke: {(time.time() - start) / 5:.2f} s/step")
            return
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
