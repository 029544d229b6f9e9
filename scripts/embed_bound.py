#!/usr/bin/env python3
"""Bound on the batch embedding's one prompt-dependent event (src/proto/embed.c).

Each table row has H bucket choices (keyed permutations of the V rows, key
fresh per session), the prompt's R distinct tokens need distinct buckets
among B. By Hall's theorem no assignment exists only if some j tokens have
all their H j choices inside j - 1 buckets, so

    P(fail) <= sum_{j>=2} C(R, j) C(B, j - 1) ((j - 1)(1 + B/V) / B)^(H j)

(the factor 1 + B/V covers drawing rows without replacement). Prints the
worst -log2 of the bound over R in [8, 1024] for B = 2 R + 64, H = 5.
Usage: scripts/embed_bound.py [H] [a] [c]   (B = a R + c)"""
import sys
from math import exp, lgamma, log


def log_comb(n, k):
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)


def log2_bound(R, B, H, V=50257):
    terms = []
    for j in range(2, R + 1):
        f = (j - 1) / B * (1 + B / V)
        if f >= 1:
            return 0.0
        terms.append(log_comb(R, j) + log_comb(B, j - 1) + H * j * log(f))
    m = max(terms)
    return (m + log(sum(exp(t - m) for t in terms))) / log(2)


def main():
    H, a, c = (int(x) for x in (sys.argv[1:4] if len(sys.argv) > 3 else (5, 2, 64)))
    worst = max((log2_bound(R, a * R + c, H), R) for R in range(8, 1025))
    print(f"H={H}, B={a}R+{c}: P(fail) <= 2^{worst[0]:.1f} per pass (worst R={worst[1]})")


if __name__ == "__main__":
    main()
