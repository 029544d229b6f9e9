/* `cryptogen bench NAME ...`: dispatch to the benchmark programs. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static const cg_bench_entry benches[] = {
    {"ntt", cg_bench_ntt, "negacyclic NTT per back-end, side by side"},
    {"he", cg_bench_he, "BFV operations for three parameter sets"},
    {"ot", cg_bench_ot, "base OT, IKNP COT/ROT/OT and 1-of-16 OT per second (--n N)"},
    {"mpc", cg_bench_mpc, "two-party protocols per element at n = 1, 3072, 50257 (--max N)"},
    {"gen", cg_bench_gen, "secure generation per token vs length, cache and baseline (--shape gpt2-base)"},
    {NULL, NULL, NULL},
};

int cg_cmd_bench(int argc, char **argv)
{
    size_t nb = sizeof benches / sizeof benches[0] - 1;
    if (argc < 2 || strcmp(argv[1], "--list") == 0) {
        printf("benchmarks (each prints JSON):\n");
        for (size_t i = 0; i < nb; i++) printf("  %-6s %s\n", benches[i].name, benches[i].help);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < nb; i++)
        if (strcmp(argv[1], benches[i].name) == 0) return benches[i].run(argc - 1, argv + 1);
    fprintf(stderr, "cryptogen bench: unknown benchmark '%s'\n", argv[1]);
    return 2;
}
