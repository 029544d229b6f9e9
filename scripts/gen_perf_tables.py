#!/usr/bin/env python3
"""Markdown tables of docs/PERFORMANCE.md's secure-generation section from
`cryptogen bench gen --json` output (LAN, and optionally WAN).
Usage: scripts/gen_perf_tables.py docs/bench/gen_lan.json [docs/bench/gen_wan.json]"""
import json
import sys

PAPER = {64: (11.92, 9.60), 128: (28.42, 16.45), 256: (81.05, 33.84), 512: (225.7, 65.55)}
PARTS = ['layernorm', 'qkv', 'kv_append', 'qk', 'softmax', 'sv', 'attn_out', 'mlp_up', 'gelu',
         'mlp_down', 'refresh']


def main():
    lan = json.load(open(sys.argv[1]))
    wan = json.load(open(sys.argv[2])) if len(sys.argv) > 2 else {'results': []}
    cache = {r['L']: r for r in lan['results'] if r['mode'] == 'cache'}
    base = {r['L']: r for r in lan['results'] if r['mode'] == 'baseline' and r.get('measured', True)}
    w = {r['L']: r for r in wan['results'] if r['mode'] == 'cache'}
    lengths = sorted(cache)
    b0 = min(base) if base else None
    print('### One transformer block per token, seconds, beside the paper\'s Table 4\n')
    print('| L | cryptogen cache (2 cores) | cryptogen baseline (2 cores) | paper CryptoGen (16 cores) '
          '| paper BOLT baseline (16 cores) | cryptogen cache, WAN 100 Mbit/s 40 ms RTT |')
    print('|---:|---:|---:|---:|---:|---:|')
    for L in lengths:
        if L in base:
            bs = '%.1f' % base[L]['block']['seconds']
        elif b0:
            bs = 'not run (>= %.0f by a linear lower bound from L=%d)' % (
                base[b0]['block']['seconds'] * L / b0, b0)
        else:
            bs = 'not run'
        p = PAPER.get(L, ('—', '—'))
        ws = '%.1f' % w[L]['block']['seconds'] if L in w else '—'
        print('| %d | %.2f | %s | %s | %s | %s |' % (L, cache[L]['block']['seconds'], bs, p[1], p[0], ws))
    print('\n### Components of one block per token, seconds (loopback), and traffic\n')
    print('| L | ' + ' | '.join(PARTS) + ' | total | MB client->server | MB server->client | rounds '
          '| server cache per layer (MB) |')
    print('|---:|' + '---:|' * (len(PARTS) + 5))
    for L in lengths:
        r = cache[L]
        b = r['block']
        print('| %d | ' % L + ' | '.join('%.2f' % b['parts_seconds'][k] for k in PARTS) +
              ' | %.2f | %.1f | %.1f | %d | %.1f |' % (
                  b['seconds'], b['bytes_client_to_server'] / 1e6, b['bytes_server_to_client'] / 1e6,
                  b['rounds'], r['server_cache_bytes_per_layer'] / 1e6))
    print('\n### Whole model per token (12 blocks + embedding + LM head + token)\n')
    print('| L | seconds (loopback) | of which embedding / LM head / argmax | MB client->server '
          '| MB server->client | seconds (WAN) |')
    print('|---:|---:|---:|---:|---:|---:|')
    for L in lengths:
        r = cache[L]
        print('| %d | %.1f | %.2f / %.2f / %.2f | %.0f | %.0f | %s |' % (
            L, r['whole_model_seconds'], r['embedding_seconds'], r['lm_head_seconds'],
            r['token_seconds'], r['whole_model_bytes_client_to_server'] / 1e6,
            r['whole_model_bytes_server_to_client'] / 1e6,
            '%.0f' % w[L]['whole_model_seconds'] if L in w else '—'))
    if w:
        print('\nWAN components of one block (seconds): ' + '; '.join(
            'L=%d: ' % L + ', '.join('%s %.2f' % (k, w[L]['block']['parts_seconds'][k]) for k in PARTS)
            for L in sorted(w)))


if __name__ == '__main__':
    main()
