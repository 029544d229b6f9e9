/* `cryptogen bench ntt [--json]`: forward/inverse negacyclic NTT of one prime
 * for each available back-end, side by side (medians, microseconds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/machine.h"
#include "cli/opts.h"
#include "cryptogen/ring.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double median_us(const cg_ntt_table *t, uint64_t *a, bool inverse)
{
    enum { REPS = 301 };
    uint64_t ts[REPS];
    for (int r = 0; r < REPS; r++) {
        uint64_t s = cg_now_ns();
        if (inverse)
            cg_ntt_inverse(t, a);
        else
            cg_ntt_forward(t, a);
        ts[r] = cg_now_ns() - s;
    }
    qsort(ts, REPS, sizeof ts[0], cmp_u64);
    return (double)ts[REPS / 2] / 1000.0;
}

int cg_bench_ntt(int argc, char **argv)
{
    bool json = false;
    const cli_opt opts[] = {
        CLI_OPT_FLAG("json", 0, json, "print JSON instead of a table"),
        {0},
    };
    const cli_command cmd = {.name = "bench ntt", .opts = opts,
                             .about = "Forward and inverse negacyclic NTT of one prime for each available\n"
                                      "back-end, side by side (medians, microseconds)."};
    int parsed = cli_parse(&cmd, argc, argv, NULL);
    if (parsed != CLI_PARSED) return parsed;
    const size_t sizes[] = {4096, 8192, 16384};
    const unsigned bits[] = {50, 60};
    const cg_ntt_backend bes[] = {CG_NTT_PORTABLE, CG_NTT_AVX2, CG_NTT_AVX512IFMA};
    bool first = true;
    if (json) {
        printf("{\"bench\": \"ntt\", ");
        cli_print_machine_json(stdout);
        printf(", \"threads\": 1, \"results\": [\n");
    }
    for (size_t si = 0; si < 3; si++)
        for (size_t bi = 0; bi < 2; bi++) {
            uint64_t q;
            /* IFMA needs q < 2^50: use 49-bit primes for the "50" row */
            if (cg_primes_ntt(bits[bi] - (bits[bi] == 50), sizes[si], 1, NULL, 0, &q, NULL) != CG_OK) return 1;
            double base_fwd = 0;
            for (size_t k = 0; k < 3; k++) {
                if (!cg_ntt_backend_available(bes[k], q)) continue;
                cg_ntt_table t;
                if (cg_ntt_table_init(&t, sizes[si], q, bes[k], NULL) != CG_OK) return 1;
                uint64_t *a = cg_alloc(sizes[si] * sizeof(uint64_t));
                for (size_t i = 0; i < sizes[si]; i++) a[i] = (i * 2654435761u) % q;
                double f = median_us(&t, a, false), inv = median_us(&t, a, true);
                if (k == 0) base_fwd = f;
                if (json)
                    printf("%s  {\"n\": %zu, \"prime_bits\": %u, \"backend\": \"%s\", \"forward_us\": %.2f, "
                           "\"inverse_us\": %.2f, \"speedup_vs_portable\": %.2f, \"fma_double\": %s}",
                           first ? "" : ",\n", sizes[si], t.mod.bits, cg_ntt_backend_name(bes[k]), f, inv,
                           base_fwd / f, t.fma ? "true" : "false");
                else
                    printf("n=%-6zu %2u-bit %-11s%s fwd %8.2f us  inv %8.2f us  (x%.2f vs portable)\n", sizes[si],
                           t.mod.bits, cg_ntt_backend_name(bes[k]), t.fma ? "+fma" : "    ", f, inv, base_fwd / f);
                first = false;
                cg_free(a);
                cg_ntt_table_free(&t);
            }
        }
    if (json) printf("\n]}\n");
    return 0;
}
