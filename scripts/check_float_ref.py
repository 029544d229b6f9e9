#!/usr/bin/env python3
"""Developer check: cryptogen's C float forward against the independent PyTorch
reference (scripts/gpt2_reference.py) on the default model, all positions.
Usage: /usr/bin/python3 scripts/check_float_ref.py [build/release/src/cli/cryptogen]"""
import json
import os
import subprocess
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
exe = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build/release/src/cli/cryptogen")
model = os.path.join(root, "models/default")
sys.path.insert(0, os.path.join(root, "scripts"))
from gpt2_bpe import Tokenizer  # noqa: E402

tok = Tokenizer(os.path.join(model, "vocab.json"), os.path.join(model, "merges.txt"))
ids = tok.encode("The tower is 324 metres tall, about the same height as an 81-storey building.")
arg = ",".join(map(str, ids))
c = json.loads(subprocess.check_output([exe, "logits", "--model", model, "--ids", arg, "--all"]))
py = json.loads(subprocess.check_output([sys.executable, os.path.join(root, "scripts/gpt2_reference.py"),
                                         "--model", model, "--ids", arg, "--all"]))
worst = 0.0
for rc, rp in zip(c, py):
    scale = max(abs(v) for v in rp)
    worst = max(worst, max(abs(a - b) for a, b in zip(rc, rp)) / scale)
print(json.dumps({"positions": len(ids), "max_abs_diff_over_max_logit": worst}))
sys.exit(0 if worst < 1e-4 else 1)
