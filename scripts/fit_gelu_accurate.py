#!/usr/bin/env python3
"""Coefficients of cryptogen's accurate GELU option (cg_fxp_ref_gelu_accurate):
GELU(x) = x/2 + Q(t), t = |x|/4, for |x| <= T = 3.5 (ReLU outside), Q a
degree-6 polynomial fitted by least squares on Chebyshev nodes of
[0, T/4] (close to the minimax fit). Prints the coefficients and the fit's
maximum error. Standard library only."""
from math import cos, erf, pi, sqrt

T = 3.5
DEG = 6


def gelu(x):
    return 0.5 * x * (1 + erf(x / sqrt(2)))


def solve(a, b):
    n = len(a)
    m = [row[:] + [v] for row, v in zip(a, b)]
    for i in range(n):
        p = max(range(i, n), key=lambda r: abs(m[r][i]))
        m[i], m[p] = m[p], m[i]
        for r in range(n):
            if r != i:
                f = m[r][i] / m[i][i]
                for c in range(i, n + 1):
                    m[r][c] -= f * m[i][c]
    return [m[i][n] / m[i][i] for i in range(n)]


def main():
    hi = T / 4
    nodes = [hi * (1 - cos(pi * (i + 0.5) / 4000)) / 2 for i in range(4000)]
    target = [gelu(4 * t) - 2 * t for t in nodes]
    a = [[sum(t ** (j + k) for t in nodes) for k in range(DEG + 1)] for j in range(DEG + 1)]
    b = [sum(y * t ** j for y, t in zip(target, nodes)) for j in range(DEG + 1)]
    c = solve(a, b)
    grid = [hi * i / 20000 for i in range(20001)]
    err = max(abs(sum(ck * t ** k for k, ck in enumerate(c)) - (gelu(4 * t) - 2 * t)) for t in grid)
    for k, ck in enumerate(c):
        print('#define GELU_ACC_D%d %.17g' % (k, ck))
    print('/* fit max error %.3g on |x| <= %.2f; |GELU(x) - ReLU(x)| at %.2f: %.3g */'
          % (err, T, T, abs(gelu(T) - T)))


if __name__ == '__main__':
    main()
