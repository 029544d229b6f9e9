/* `cryptogen bench NAME ...`: dispatch to the benchmark programs. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"

static const cg_bench_entry benches[] = {
    {"ntt", cg_bench_ntt, "negacyclic NTT per back-end, side by side"},
    {"he", cg_bench_he, "BFV operations for three parameter sets"},
    {"ot", cg_bench_ot, "base OT, IKNP COT/ROT/OT and 1-of-16 OT per second (--n N)"},
    {"mpc", cg_bench_mpc, "two-party protocols per element at n = 1, 3072, 50257 (--max N)"},
    {"gen", cg_bench_gen, "secure generation per token vs length, cache and baseline (--shape gpt2-base)"},
    {NULL, NULL, NULL},
};

static void list_benches(FILE *f)
{
    fprintf(f, "benchmarks (each prints JSON with --json):\n");
    for (const cg_bench_entry *b = benches; b->name; b++) fprintf(f, "  %-6s %s\n", b->name, b->help);
    fprintf(f, "\n'cryptogen bench NAME --help' describes a benchmark's options.\n");
}

int cg_cmd_bench(int argc, char **argv)
{
    bool list = false;
    const cli_opt opts[] = {
        CLI_OPT_FLAG("list", 0, list, "list the benchmarks and exit"),
        {0},
    };
    const cli_command cmd = {.name = "bench", .synopsis = "NAME [options] | --list", .opts = opts,
                             .about = "Runs one benchmark.",
                             .stop_at_operand = true, .more_help = list_benches};
    int first = argc;
    int parsed = cli_parse(&cmd, argc, argv, &first);
    if (parsed != CLI_PARSED) return parsed;
    if (list) {
        list_benches(stdout);
        return 0;
    }
    if (first >= argc) {
        list_benches(stderr);
        return cli_usage_error(&cmd, "which benchmark? (NAME above)");
    }
    for (const cg_bench_entry *b = benches; b->name; b++)
        if (strcmp(argv[first], b->name) == 0) return b->run(argc - first, argv + first);
    return cli_usage_error(&cmd, "unknown benchmark '%s'", argv[first]);
}
