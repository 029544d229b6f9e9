#!/usr/bin/env python3
"""GPT-2 'massive activation' stress checkpoints (issue 16), numpy only.

Real GPT-2 carries a few residual channels at about +-2,000..3,000 at the
first position from its early layers on (Sun et al., 2024, "Massive
Activations in Large Language Models"). No real checkpoint can be
downloaded here, so this script builds models with the same statistics:

  trained (default): the embedded default model (models/default) with two
      residual channels (one +, one -) that reach +-VALUE at position 0 from
      layer 2 on: wpe[0] holds VALUE/3 in them (GPT-2's wpe[0] is an outlier
      too) and one MLP neuron each in layers 0 and 1 adds VALUE/3 (a linear
      layer's output must stay below 2,048 at l = 37, s = w = 12,
      docs/NUMERICS.md). The neurons read the channel after ln_2, where the
      outlier dominates the row (sqrt(d - 1) or sqrt(d / 2) after
      normalisation), so they fire at position 0 only and give the same value
      for every first token; the channels are removed from everything else (wte columns, the other
      neurons, attention outputs, every LayerNorm's gamma and beta except the
      two injecting ln_2), as the massive channels of GPT-2 carry no token
      information. Text quality: `cryptogen ppl` (docs/ACCURACY.md).
  --steps 1: wpe[0] holds a marker of 10 and layer 1's MLP writes the rest
      (VALUE - 10) at once: an MLP output beyond 2,048, which serve accepts
      by picking weight fraction 11 (and logs it).
  --random-base: GPT-2 base shape (12 layers, 768 wide, 12 heads, 1,024
      positions) with random weights (N(0, 0.02), GPT-2 init) and the same
      injection, for timing; the tokenizer files are copied from --src.

Usage (use /usr/bin/python3 where a pyenv python lacks numpy):
  python3 scripts/make_stress_model.py --out build/stress
  python3 scripts/make_stress_model.py --random-base --out build/stress-base
  cryptogen stats --model build/stress --data FILE   # ranges per layer
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

DT = {"F16": np.float16, "F32": np.float32, "BF16": None}


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        if meta["dtype"] == "BF16":
            raw = np.frombuffer(data[a:b], dtype=np.uint16).astype(np.uint32) << 16
            arr = raw.view(np.float32)
        else:
            arr = np.frombuffer(data[a:b], dtype=DT[meta["dtype"]])
        out[name] = arr.astype(np.float32).reshape(meta["shape"])
    return out


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        b = np.ascontiguousarray(tensors[name].astype(np.float16)).tobytes()
        header[name] = {"dtype": "F16", "shape": list(tensors[name].shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def random_model(cfg, seed):
    rng = np.random.default_rng(seed)
    d, V, P, L = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"], cfg["n_layer"]
    g = lambda *s, std=0.02: (rng.standard_normal(s, dtype=np.float32) * std)
    t = {"wte.weight": g(V, d), "wpe.weight": g(P, d, std=0.01),
         "ln_f.weight": np.ones(d, np.float32), "ln_f.bias": np.zeros(d, np.float32)}
    proj_std = 0.02 / np.sqrt(2 * L)
    for i in range(L):
        p = f"h.{i}."
        t[p + "ln_1.weight"] = np.ones(d, np.float32)
        t[p + "ln_1.bias"] = np.zeros(d, np.float32)
        t[p + "ln_2.weight"] = np.ones(d, np.float32)
        t[p + "ln_2.bias"] = np.zeros(d, np.float32)
        t[p + "attn.c_attn.weight"] = g(d, 3 * d)
        t[p + "attn.c_attn.bias"] = np.zeros(3 * d, np.float32)
        t[p + "attn.c_proj.weight"] = g(d, d, std=proj_std)
        t[p + "attn.c_proj.bias"] = np.zeros(d, np.float32)
        t[p + "mlp.c_fc.weight"] = g(d, 4 * d)
        t[p + "mlp.c_fc.bias"] = np.zeros(4 * d, np.float32)
        t[p + "mlp.c_proj.weight"] = g(4 * d, d, std=proj_std)
        t[p + "mlp.c_proj.bias"] = np.zeros(d, np.float32)
    return t


def inject(t, n_layer, value, n_channels, steps=3, threshold=4.0):
    """Massive activations at position 0: channel c_k reaches sign_k * value
    from layer 2 on (steps 3: wpe[0], layer 0 and layer 1 add value / 3
    each; steps 1: wpe[0] a marker of 10, layer 1 the rest)."""
    wte = t["wte.weight"]
    # the least-used channels: smallest token-embedding column norms
    chans = [int(c) for c in np.argsort(np.linalg.norm(wte, axis=0))[:n_channels]]
    signs = [1.0, -1.0][:n_channels]
    d = wte.shape[1]
    # ln_out[c] at position 0 once the channels dominate the row's variance:
    # one channel A: (A - A/d) / (A sqrt(d - 1) / d); two (A, -A): sqrt(d / 2)
    ln_c = np.sqrt(d - 1.0) if n_channels == 1 else np.sqrt(d / 2.0)
    marker = value / 3 if steps == 3 else 10.0
    per_layer = value / 3 if steps == 3 else value - marker
    injecting = (0, 1) if steps == 3 else (1,)
    for c, sg in zip(chans, signs):
        wte[:, c] = 0.0
        t["wpe.weight"][:, c] = 0.0
        t["wpe.weight"][0, c] = sg * marker
        t["ln_f.weight"][c] = 0.0
        t["ln_f.bias"][c] = 0.0
    for i in range(n_layer):
        p = f"h.{i}."
        fc_w, fc_b = t[p + "mlp.c_fc.weight"], t[p + "mlp.c_fc.bias"]
        fc2_w, fc2_b = t[p + "mlp.c_proj.weight"], t[p + "mlp.c_proj.bias"]
        # the least-used neurons of this layer become the injectors
        order = [int(j) for j in np.argsort(np.linalg.norm(fc2_w, axis=1))]
        for k, (c, sg) in enumerate(zip(chans, signs)):
            t[p + "ln_1.weight"][c] = 0.0
            t[p + "ln_1.bias"][c] = 0.0
            t[p + "attn.c_proj.weight"][:, c] = 0.0
            t[p + "attn.c_proj.bias"][c] = 0.0
            fc_w[c, :] = 0.0
            fc2_w[:, c] = 0.0
            fc2_b[c] = 0.0
            inj = i in injecting
            t[p + "ln_2.weight"][c] = 1.0 if inj else 0.0
            t[p + "ln_2.bias"][c] = 0.0
            if inj:
                j = order[k]
                fc_w[:, j] = 0.0
                fc_w[c, j] = sg
                fc_b[j] = -threshold
                fc2_w[j, :] = 0.0
                fc2_w[j, c] = sg * per_layer / (ln_c - threshold)
    return chans


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default="models/default", help="trained model / tokenizer directory")
    ap.add_argument("--out", required=True, help="output model directory")
    ap.add_argument("--value", type=float, default=3000.0, help="outlier magnitude from layer 2 on")
    ap.add_argument("--channels", type=int, default=2, choices=(1, 2), help="outlier channels (+, -)")
    ap.add_argument("--steps", type=int, default=3, choices=(1, 3),
                    help="3: wpe[0] + two MLPs of VALUE/3; 1: one MLP writes it at once")
    ap.add_argument("--random-base", action="store_true", help="GPT-2 base shape, random weights")
    ap.add_argument("--seed", type=int, default=16)
    a = ap.parse_args()
    with open(os.path.join(a.src, "config.json")) as f:
        cfg = json.load(f)
    if a.random_base:
        cfg.update(n_layer=12, n_head=12, n_embd=768, n_positions=1024, n_ctx=1024, vocab_size=50257)
        t = random_model(cfg, a.seed)
    else:
        t = load_safetensors(os.path.join(a.src, "model.safetensors"))
    chans = inject(t, cfg["n_layer"], a.value, a.channels, a.steps)
    os.makedirs(a.out, exist_ok=True)
    cfg["torch_dtype"] = "float16"
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    save_safetensors(os.path.join(a.out, "model.safetensors"), t)
    for name in ("vocab.json", "merges.txt", "TOKENIZER-LICENSE.md"):
        if os.path.exists(os.path.join(a.src, name)):
            shutil.copy(os.path.join(a.src, name), os.path.join(a.out, name))
    print(json.dumps({"out": a.out, "channels": chans, "value": a.value,
                      "layers": cfg["n_layer"], "width": cfg["n_embd"]}))


if __name__ == "__main__":
    main()
