/* The option parser every cryptogen command uses, built on getopt_long. A
 * command describes its options once, in a table; the same table drives the
 * parsing (each value checked as it is read: number syntax, range, choice),
 * `--help` and the error messages, which name the option and what is wrong
 * with it. Constraints between options stay in the command, reported with
 * cli_usage_error so they read the same. */
#ifndef CG_CLI_OPTS_H
#define CG_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cli_kind {
    CLI_FLAG,   /* bool, set to true when given; takes no value */
    CLI_STRING, /* const char *: the value itself, optionally checked by .check */
    CLI_CHOICE, /* const char *: one of .choices (the list's pointer is stored) */
    CLI_INT,    /* int in [.min, .max] */
    CLI_U64,    /* uint64_t in [.umin, .umax] */
    CLI_DOUBLE, /* double in [.dmin, .dmax], finite */
} cli_kind;

/* A CLI_STRING value's check: false with why set to what is wrong, phrased
 * to follow the value ("is not ...") in the error message. */
typedef bool (*cli_check_fn)(const char *value, char *why, size_t why_size);

typedef struct cli_opt {
    const char *name;  /* long name without "--"; NULL for a short-only option */
    char short_name;   /* 0: none */
    cli_kind kind;
    void *target;      /* the variable the option sets; its value before parsing is the default */
    const char *metavar; /* the value's name in --help ("N", "HOST:PORT");
                            CLI_CHOICE: NULL shows the choices instead */
    const char *help;    /* one line; the range and the default are appended */
    long long min, max;  /* CLI_INT */
    uint64_t umin, umax; /* CLI_U64 */
    double dmin, dmax;   /* CLI_DOUBLE */
    const char *const *choices; /* CLI_CHOICE, NULL-terminated */
    cli_check_fn check;         /* CLI_STRING, optional */
    const char *default_text;   /* shown as the default instead of the variable's value ("" hides it) */
} cli_opt;

/* The target's address, checked against the type the kind stores: a table
 * line whose variable has the wrong type does not compile. */
#define CLI_TARGET(type, var) _Generic(&(var), type *: (void *)&(var))

#define CLI_OPT_FLAG(lname, sname, var, text)                                                     \
    {.name = (lname), .short_name = (sname), .kind = CLI_FLAG, .target = CLI_TARGET(bool, var), \
     .help = (text)}
#define CLI_OPT_STRING(lname, sname, var, meta, text)                                                    \
    {.name = (lname), .short_name = (sname), .kind = CLI_STRING, .target = CLI_TARGET(const char *, var), \
     .metavar = (meta), .help = (text)}
#define CLI_OPT_CHECKED(lname, sname, var, meta, checkfn, text)                                          \
    {.name = (lname), .short_name = (sname), .kind = CLI_STRING, .target = CLI_TARGET(const char *, var), \
     .metavar = (meta), .help = (text), .check = (checkfn)}
#define CLI_OPT_CHOICE(lname, sname, var, meta, list, text)                                              \
    {.name = (lname), .short_name = (sname), .kind = CLI_CHOICE, .target = CLI_TARGET(const char *, var), \
     .metavar = (meta), .help = (text), .choices = (list)}
#define CLI_OPT_INT(lname, sname, var, meta, lo, hi, text)                                             \
    {.name = (lname), .short_name = (sname), .kind = CLI_INT, .target = CLI_TARGET(int, var),           \
     .metavar = (meta), .help = (text), .min = (lo), .max = (hi)}
#define CLI_OPT_U64(lname, sname, var, meta, lo, hi, text)                                             \
    {.name = (lname), .short_name = (sname), .kind = CLI_U64, .target = CLI_TARGET(uint64_t, var),      \
     .metavar = (meta), .help = (text), .umin = (lo), .umax = (hi)}
#define CLI_OPT_DOUBLE(lname, sname, var, meta, lo, hi, text)                                          \
    {.name = (lname), .short_name = (sname), .kind = CLI_DOUBLE, .target = CLI_TARGET(double, var),     \
     .metavar = (meta), .help = (text), .dmin = (lo), .dmax = (hi)}

typedef struct cli_command {
    const char *name;     /* "generate", "bench ot"; "" for the program itself */
    const char *synopsis; /* what follows "usage: cryptogen NAME "; NULL: "[options]" */
    const char *about;    /* lines printed under the usage line by --help */
    const cli_opt *opts;  /* ends with an entry whose name and short_name are both 0 */
    /* The first operand (a subcommand's name) ends the options: it and
     * everything after it are left to the caller. Otherwise any operand is
     * an error. */
    bool stop_at_operand;
    /* Else, when set: one optional operand (a positional prompt) is stored
     * here; a second one is an error. */
    const char **operand;
    void (*more_help)(FILE *f); /* a section after the options (a list of subcommands) */
} cli_command;

/* cli_parse's "carry on" answer; any other is the exit status to return. */
#define CLI_PARSED (-1)

/* Parses argv[1..argc) (argv[0] is the command's own name) into the
 * table's variables. Returns CLI_PARSED, or 0 after printing --help on
 * stdout, or 2 after printing what is wrong and a pointer to --help on
 * stderr. *operand (when stop_at_operand) is the index of the first
 * operand, argc when there is none. -h/--help is added to every table. */
int cli_parse(const cli_command *cmd, int argc, char **argv, int *operand);

/* The --help text, with the variables' current values as the defaults. */
void cli_print_help(const cli_command *cmd, FILE *f);

/* "cryptogen NAME: <message>" and the pointer to --help on stderr; returns
 * 2, the exit status of a usage error. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
