/* The cryptogen program's subcommands. Each lives in its own cmd_*.c file and
 * is listed in main.c's table. A command returns the process exit status. */
#ifndef CG_CLI_COMMANDS_H
#define CG_CLI_COMMANDS_H

int cg_cmd_version(int argc, char **argv);
int cg_cmd_bench(int argc, char **argv);
int cg_cmd_demo(int argc, char **argv);
int cg_cmd_generate(int argc, char **argv);
int cg_cmd_logits(int argc, char **argv);
int cg_cmd_ppl(int argc, char **argv);
int cg_cmd_stats(int argc, char **argv);
int cg_cmd_serve(int argc, char **argv);
int cg_cmd_tls_cert(int argc, char **argv);

/* Benchmarks behind `cryptogen bench NAME`; each prints JSON on stdout. */
typedef struct cg_bench_entry {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} cg_bench_entry;

int cg_bench_ot(int argc, char **argv);

int cg_bench_he(int argc, char **argv);
int cg_bench_ntt(int argc, char **argv);
int cg_bench_mpc(int argc, char **argv);
int cg_bench_gen(int argc, char **argv);

#endif
