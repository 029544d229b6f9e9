/* cryptogen: command-line entry point, a table of subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
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
    {"tls-cert", cg_cmd_tls_cert, "a self-signed TLS certificate and key for serve; prints its pin"},
    {"ppl", cg_cmd_ppl, "perplexity / LAMBADA accuracy, float or fixed point"},
    {"stats", cg_cmd_stats, "activation statistics per layer and tensor (JSON)"},
    {"logits", cg_cmd_logits, "float-model logits as JSON (reference checks)"},
    {"bench", cg_cmd_bench, "benchmarks printing JSON: cryptogen bench --list"},
    {"version", cg_cmd_version, "print version and the SIMD features in use"},
};

static void list_commands(FILE *f)
{
    fprintf(f, "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'cryptogen COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
    cg_error err = {0};
    if (cg_init(&err) != CG_OK) {
        fprintf(stderr, "cryptogen: %s\n", err.msg);
        return 1;
    }
    bool version = false;
    const cli_opt opts[] = {
        CLI_OPT_FLAG("version", 0, version, "print the version (as 'cryptogen version') and exit"),
        {0},
    };
    const cli_command cmd = {.name = "", .synopsis = "COMMAND [options]", .opts = opts,
                             .about = "Private text generation: a client and a server run a GPT-2 model\n"
                                      "together without the server seeing the text.",
                             .stop_at_operand = true, .more_help = list_commands};
    int first = argc;
    int rc = cli_parse(&cmd, argc, argv, &first);
    if (rc != CLI_PARSED) return rc;
    if (version) {
        char *args[] = {"version", NULL};
        return cg_cmd_version(1, args);
    }
    if (first >= argc) {
        cli_print_help(&cmd, stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[first], commands[i].name) == 0) return commands[i].run(argc - first, argv + first);
    return cli_usage_error(&cmd, "unknown command '%s'", argv[first]);
}
