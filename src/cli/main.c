/* cryptogen: command-line entry point, a table of subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cryptogen/common.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"demo", cg_cmd_demo, "private generation on loopback with the default model (README main job)"},
    {"serve", cg_cmd_serve, "serve secure generation: --model DIR --listen HOST:PORT"},
    {"generate", cg_cmd_generate, "secure generation client (--connect) or local references"},
    {"ppl", cg_cmd_ppl, "perplexity / LAMBADA accuracy, float or fixed point"},
    {"stats", cg_cmd_stats, "activation statistics per layer and tensor (JSON)"},
    {"logits", cg_cmd_logits, "float-model logits as JSON (reference checks)"},
    {"bench", cg_cmd_bench, "benchmarks printing JSON: cryptogen bench --list"},
    {"version", cg_cmd_version, "print version and the SIMD features in use"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: cryptogen COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
    cg_error err = {0};
    if (cg_init(&err) != CG_OK) {
        fprintf(stderr, "cryptogen: %s\n", err.msg);
        return 1;
    }
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "cryptogen: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
