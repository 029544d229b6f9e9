#!/usr/bin/env bash
# Draws docs/img/gen_latency.svg from `cryptogen bench gen --json` output:
# per-block decode latency per token vs total length L, cryptogen's cache and
# baseline modes beside the paper's Table 4 (CryptoGen and its BOLT baseline).
# Usage: scripts/plot_gen.sh LAN.json [WAN.json]   (needs gnuplot: apt install gnuplot-nox)
set -euo pipefail
cd "$(dirname "$0")/.."
lan=$1
wan=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
extract() { # file mode -> "L seconds" lines
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["results"]:
    if r["mode"] == sys.argv[2] and r.get("measured", True):
        print(r["L"], r["block"]["seconds"])
PY
}
extract "$lan" cache > "$tmp/cache.dat"
extract "$lan" baseline > "$tmp/base.dat"
[ -n "$wan" ] && extract "$wan" cache > "$tmp/wan.dat" || : > "$tmp/wan.dat"
printf '64 9.60\n128 16.45\n256 33.84\n512 65.55\n' > "$tmp/paper.dat"
printf '64 11.92\n128 28.42\n256 81.05\n512 225.7\n' > "$tmp/bolt.dat"
gnuplot <<GP
set terminal svg size 760,480 font "sans,12" background "white"
set output "docs/img/gen_latency.svg"
set title "GPT-2 base, one transformer block, per generated token"
set xlabel "total length L (tokens)"
set ylabel "seconds per token per block"
set logscale xy
set xtics (64, 128, 256, 512)
set xrange [52:620]
set key top left
set grid
plot "$tmp/cache.dat" w lp lw 2 pt 7 t "cryptogen, cache (2 cores, loopback)", \
     "$tmp/wan.dat" w lp lw 2 pt 9 t "cryptogen, cache (2 cores, 100 Mbit/s, 40 ms RTT)", \
     "$tmp/base.dat" w p pt 5 ps 1.5 t "cryptogen, baseline (re-runs the sequence)", \
     "$tmp/paper.dat" w lp dt 2 pt 6 t "paper: CryptoGen (16 cores)", \
     "$tmp/bolt.dat" w lp dt 2 pt 4 t "paper: BOLT baseline (16 cores)"
GP
echo "wrote docs/img/gen_latency.svg"
