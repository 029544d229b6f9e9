#!/usr/bin/env python3
"""Writes tests/data/bpe_cases.txt: hex(text) TAB comma-separated ids, computed
with scripts/gpt2_bpe.py (the Python `regex` module's \\p{L}/\\p{N}/\\s), as an
independent reference for the C tokenizer."""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt2_bpe import Tokenizer  # noqa: E402

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
tok = Tokenizer(os.path.join(root, "models/default/vocab.json"), os.path.join(root, "models/default/merges.txt"))
cases = ["Hello world", "", " ", "  ", "a  b\n\n c\t\td   ", "I'm can't we'll they've she'd it's YOU'RE",
         "12345 3.14 1,000,000", "!!! ??? ... --- (parens) [brackets]", "Привет мир", "日本語のテキスト",
         "😀🎉 emoji", "١٢٣ ٤٥٦", "café naïve résumé", "e\u0301 combining", "tab\tand\nnewline\r\nend",
         " leading and trailing  ", "<|endoftext|>", "x\u00a0y\u2003z", "'quoted' \"double\"",
         "The quick brown fox jumps over the lazy dog.", "   \n"]
rnd = random.Random(7)
for path in ("tinyshakespeare/input.txt", "wikitext-2/test.txt", "ptb/test.txt"):
    lines = [l for l in open(os.path.join("/work/shared/data", path), encoding="utf-8").read().split("\n") if l.strip()]
    cases += rnd.sample(lines, 40)
with open(os.path.join(root, "tests/data/bpe_cases.txt"), "w") as f:
    for c in cases:
        f.write(c.encode("utf-8").hex() + "\t" + ",".join(map(str, tok.encode(c))) + "\n")
print(len(cases), "cases")
