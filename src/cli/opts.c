/* The table-driven option parser (see opts.h). getopt_long does the
 * scanning; this file builds its tables from the command's, checks and
 * stores each value, and turns getopt's error returns into messages that
 * name the option. */
#include "cli/opts.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTS 32
#define DEFAULT_SIZE 64
#define HELP_COLUMN 28 /* where an option's description starts */
#define LINE_WIDTH 79
#define VAL_LONG_ONLY 256 /* getopt's value for option i without a short name: 256 + i */

typedef char default_text[DEFAULT_SIZE];

static size_t count_opts(const cli_command *cmd)
{
    size_t n = 0;
    while (cmd->opts && (cmd->opts[n].name || cmd->opts[n].short_name)) n++;
    return n;
}

static void print_prog(FILE *f, const cli_command *cmd)
{
    fprintf(f, "cryptogen%s%s", cmd->name[0] ? " " : "", cmd->name);
}

/* How an option is written in messages: its long form when it has one. */
static const char *spelling(const cli_opt *o, char *buf, size_t size)
{
    if (o->name)
        snprintf(buf, size, "--%s", o->name);
    else
        snprintf(buf, size, "-%c", o->short_name);
    return buf;
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    print_prog(stderr, cmd);
    fprintf(stderr, ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry '");
    print_prog(stderr, cmd);
    fprintf(stderr, " --help'\n");
    return 2;
}

/* ---- help ---- */

static void format_default(const cli_opt *o, char *out, size_t size)
{
    out[0] = '\0';
    if (o->default_text) {
        snprintf(out, size, "%s", o->default_text);
        return;
    }
    switch (o->kind) {
    case CLI_FLAG: break;
    case CLI_STRING:
    case CLI_CHOICE: {
        const char *v = *(const char *const *)o->target;
        if (v) snprintf(out, size, strchr(v, ' ') ? "\"%s\"" : "%s", v);
        break;
    }
    case CLI_INT: snprintf(out, size, "%d", *(const int *)o->target); break;
    case CLI_U64: snprintf(out, size, "%llu", (unsigned long long)*(const uint64_t *)o->target); break;
    case CLI_DOUBLE: snprintf(out, size, "%.15g", *(const double *)o->target); break;
    }
}

static void snapshot_defaults(const cli_command *cmd, size_t n, default_text *defaults)
{
    for (size_t i = 0; i < n; i++) format_default(&cmd->opts[i], defaults[i], DEFAULT_SIZE);
}

/* "1 to 65536", "at least 1", or "" where the type's own range applies. */
static void format_range(const cli_opt *o, char *out, size_t size)
{
    out[0] = '\0';
    if (o->kind == CLI_INT) {
        if (o->max < INT_MAX)
            snprintf(out, size, "%lld to %lld", o->min, o->max);
        else if (o->min > INT_MIN)
            snprintf(out, size, "at least %lld", o->min);
    } else if (o->kind == CLI_U64) {
        if (o->umax < UINT64_MAX)
            snprintf(out, size, "%llu to %llu", (unsigned long long)o->umin, (unsigned long long)o->umax);
        else if (o->umin > 0)
            snprintf(out, size, "at least %llu", (unsigned long long)o->umin);
    } else if (o->kind == CLI_DOUBLE) {
        snprintf(out, size, "%.15g to %.15g", o->dmin, o->dmax);
    }
}

/* Appends "a<sep>b<sep>c" of a choice list. */
static void join_choices(const char *const *choices, const char *sep, char *out, size_t size)
{
    size_t len = strlen(out);
    for (size_t i = 0; choices[i] && len < size; i++) {
        snprintf(out + len, size - len, "%s%s", i ? sep : "", choices[i]);
        len += strlen(out + len);
    }
}

/* Prints text word by word from column col, wrapping to column indent. */
static void print_wrapped(FILE *f, const char *text, int col, int indent)
{
    const char *p = text;
    while (*p) {
        while (*p == ' ') p++;
        size_t word = strcspn(p, " ");
        if (word == 0) break;
        if (col > indent && col + 1 + (int)word > LINE_WIDTH) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, word, f);
        col += (int)word;
        p += word;
    }
    fputc('\n', f);
}

static void print_option(FILE *f, const cli_opt *o, const char *def)
{
    char left[128], meta[256] = "", extra[512] = "", range[96];
    if (o->kind == CLI_CHOICE && !o->metavar)
        join_choices(o->choices, "|", meta, sizeof meta);
    else if (o->metavar)
        snprintf(meta, sizeof meta, "%s", o->metavar);
    if (o->short_name && o->name)
        snprintf(left, sizeof left, "  -%c, --%s%s%s", o->short_name, o->name, meta[0] ? " " : "", meta);
    else if (o->name)
        snprintf(left, sizeof left, "      --%s%s%s", o->name, meta[0] ? " " : "", meta);
    else
        snprintf(left, sizeof left, "  -%c%s%s", o->short_name, meta[0] ? " " : "", meta);

    format_range(o, range, sizeof range);
    if (range[0]) snprintf(extra, sizeof extra, "%s", range);
    if (o->kind == CLI_CHOICE && o->metavar) {
        size_t len = strlen(extra);
        snprintf(extra + len, sizeof extra - len, "%sone of: ", len ? "; " : "");
        join_choices(o->choices, ", ", extra, sizeof extra);
    }
    if (def && def[0]) {
        size_t len = strlen(extra);
        snprintf(extra + len, sizeof extra - len, "%sdefault %s", len ? "; " : "", def);
    }
    char line[1024];
    snprintf(line, sizeof line, "%s%s%s%s", o->help ? o->help : "", extra[0] ? " (" : "", extra,
             extra[0] ? ")" : "");

    int col = (int)strlen(left);
    fputs(left, f);
    if (col + 2 > HELP_COLUMN) {
        fprintf(f, "\n%*s", HELP_COLUMN, "");
    } else {
        fprintf(f, "%*s", HELP_COLUMN - col, "");
    }
    print_wrapped(f, line, HELP_COLUMN, HELP_COLUMN);
}

static void print_help(const cli_command *cmd, FILE *f, size_t n, const default_text *defaults)
{
    fprintf(f, "usage: ");
    print_prog(f, cmd);
    fprintf(f, " %s\n", cmd->synopsis ? cmd->synopsis : "[options]");
    if (cmd->about) fprintf(f, "\n%s\n", cmd->about);
    fprintf(f, "\noptions:\n");
    for (size_t i = 0; i < n; i++) print_option(f, &cmd->opts[i], defaults[i]);
    const cli_opt help = {.name = "help", .short_name = 'h', .kind = CLI_FLAG,
                          .help = "print this help and exit"};
    print_option(f, &help, NULL);
    if (cmd->more_help) {
        fprintf(f, "\n");
        cmd->more_help(f);
    }
}

void cli_print_help(const cli_command *cmd, FILE *f)
{
    default_text defaults[MAX_OPTS];
    size_t n = count_opts(cmd);
    if (n > MAX_OPTS) n = MAX_OPTS;
    snapshot_defaults(cmd, n, defaults);
    print_help(cmd, f, n, defaults);
}

/* ---- values ---- */

static int value_error(const cli_command *cmd, const cli_opt *o, const char *value, const char *what)
{
    char sp[80];
    return cli_usage_error(cmd, "%s '%s' %s", spelling(o, sp, sizeof sp), value, what);
}

/* above: the value is past the top of the range (else below its bottom). */
static int range_error(const cli_command *cmd, const cli_opt *o, const char *value, bool above)
{
    char sp[80], range[96];
    spelling(o, sp, sizeof sp);
    bool open_top =
        (o->kind == CLI_INT && o->max == INT_MAX) || (o->kind == CLI_U64 && o->umax == UINT64_MAX);
    if (open_top && above) return cli_usage_error(cmd, "%s %s is too large", sp, value);
    if (o->kind == CLI_INT && open_top)
        return cli_usage_error(cmd, "%s %s is below %lld", sp, value, o->min);
    if (o->kind == CLI_U64 && open_top)
        return cli_usage_error(cmd, "%s %s is below %llu", sp, value, (unsigned long long)o->umin);
    if (o->kind == CLI_INT)
        snprintf(range, sizeof range, "[%lld, %lld]", o->min, o->max);
    else if (o->kind == CLI_U64)
        snprintf(range, sizeof range, "[%llu, %llu]", (unsigned long long)o->umin,
                 (unsigned long long)o->umax);
    else
        snprintf(range, sizeof range, "[%.15g, %.15g]", o->dmin, o->dmax);
    return cli_usage_error(cmd, "%s %s is outside %s", sp, value, range);
}

/* Checks value against the option and stores it: CLI_PARSED, or 2 after
 * the message. */
static int store_value(const cli_command *cmd, const cli_opt *o, const char *value)
{
    char *end = NULL;
    switch (o->kind) {
    case CLI_FLAG: *(bool *)o->target = true; return CLI_PARSED;
    case CLI_STRING:
        if (o->check) {
            char why[256] = "is not valid";
            if (!o->check(value, why, sizeof why)) return value_error(cmd, o, value, why);
        }
        *(const char **)o->target = value;
        return CLI_PARSED;
    case CLI_CHOICE: {
        for (size_t i = 0; o->choices[i]; i++)
            if (strcmp(value, o->choices[i]) == 0) {
                *(const char **)o->target = o->choices[i];
                return CLI_PARSED;
            }
        char list[512] = "is not one of ";
        join_choices(o->choices, ", ", list, sizeof list);
        return value_error(cmd, o, value, list);
    }
    case CLI_INT: {
        /* strtoll alone would take leading blanks and stop at the first
         * non-digit; the whole string has to be the number */
        const char *digits = value + (value[0] == '-' || value[0] == '+');
        if (!isdigit((unsigned char)digits[0])) return value_error(cmd, o, value, "is not an integer");
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (*end) return value_error(cmd, o, value, "is not an integer");
        if (errno == ERANGE || v < o->min || v > o->max) return range_error(cmd, o, value, v > o->min);
        *(int *)o->target = (int)v;
        return CLI_PARSED;
    }
    case CLI_U64: {
        /* no sign: strtoull would turn "-1" into 2^64 - 1 */
        if (!isdigit((unsigned char)value[0]))
            return value_error(cmd, o, value,
                               value[0] == '-' && isdigit((unsigned char)value[1])
                                   ? "is negative"
                                   : "is not a whole number");
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        if (*end) return value_error(cmd, o, value, "is not a whole number");
        if (errno == ERANGE || v < o->umin || v > o->umax) return range_error(cmd, o, value, v > o->umin);
        *(uint64_t *)o->target = (uint64_t)v;
        return CLI_PARSED;
    }
    case CLI_DOUBLE: {
        if (value[0] == '\0' || isspace((unsigned char)value[0]))
            return value_error(cmd, o, value, "is not a number");
        double v = strtod(value, &end);
        if (*end || isnan(v)) return value_error(cmd, o, value, "is not a number");
        if (!(v >= o->dmin && v <= o->dmax)) return range_error(cmd, o, value, v > o->dmax);
        *(double *)o->target = v;
        return CLI_PARSED;
    }
    }
    return CLI_PARSED;
}

/* ---- getopt_long's side ---- */

typedef struct getopt_tables {
    struct option longopts[MAX_OPTS + 2];
    char shorts[4 + 2 * MAX_OPTS + 2];
} getopt_tables;

static int option_val(const cli_opt *o, size_t i)
{
    return o->short_name ? (unsigned char)o->short_name : VAL_LONG_ONLY + (int)i;
}

static void build_tables(const cli_command *cmd, size_t n, getopt_tables *t)
{
    size_t nl = 0, ns = 0;
    /* '+': stop at the first operand (a subcommand) instead of permuting;
     * ':': a missing value returns ':' rather than '?' */
    if (cmd->stop_at_operand) t->shorts[ns++] = '+';
    t->shorts[ns++] = ':';
    t->shorts[ns++] = 'h';
    for (size_t i = 0; i < n; i++) {
        const cli_opt *o = &cmd->opts[i];
        int has_arg = o->kind == CLI_FLAG ? no_argument : required_argument;
        if (o->name) t->longopts[nl++] = (struct option){o->name, has_arg, NULL, option_val(o, i)};
        if (o->short_name) {
            t->shorts[ns++] = o->short_name;
            if (has_arg == required_argument) t->shorts[ns++] = ':';
        }
    }
    t->longopts[nl++] = (struct option){"help", no_argument, NULL, 'h'};
    t->longopts[nl] = (struct option){0};
    t->shorts[ns] = '\0';
}

static const cli_opt *option_of_val(const cli_command *cmd, size_t n, int val)
{
    for (size_t i = 0; i < n; i++)
        if (option_val(&cmd->opts[i], i) == val) return &cmd->opts[i];
    return NULL;
}

/* The long names that begin with the typed name, for "did you mean". */
static void suggest(const getopt_tables *t, const char *typed, size_t len, char *out, size_t size)
{
    out[0] = '\0';
    size_t used = 0, found = 0;
    for (const struct option *lo = t->longopts; lo->name && found < 3; lo++)
        if (len > 0 && strncmp(lo->name, typed, len) == 0) {
            snprintf(out + used, size - used, "%s'--%s'", found ? " or " : "", lo->name);
            used += strlen(out + used);
            found++;
        }
}

static int unknown_long(const cli_command *cmd, const getopt_tables *t, const char *token)
{
    const char *name = token + 2;
    size_t len = strcspn(name, "=");
    char hint[256];
    suggest(t, name, len, hint, sizeof hint);
    if (hint[0])
        return cli_usage_error(cmd, "unknown option '--%.*s' (did you mean %s?)", (int)len, name, hint);
    return cli_usage_error(cmd, "unknown option '--%.*s'", (int)len, name);
}

/* getopt_long takes any unambiguous prefix of a long name; the commands
 * accept only the full name, so that adding an option never turns a
 * working abbreviation into an ambiguous one. token is what was typed. */
static bool abbreviated(const char *token, const char *full)
{
    size_t len = strcspn(token + 2, "=");
    return len != strlen(full);
}

int cli_parse(const cli_command *cmd, int argc, char **argv, int *operand)
{
    size_t n = count_opts(cmd);
    if (n > MAX_OPTS) {
        fprintf(stderr, "cryptogen: internal error: %s has more than %d options\n", cmd->name, MAX_OPTS);
        return 1;
    }
    getopt_tables t;
    default_text defaults[MAX_OPTS];
    build_tables(cmd, n, &t);
    snapshot_defaults(cmd, n, defaults); /* --help shows these even after other options */
    optind = 0; /* glibc: 0 restarts the scan, whatever an earlier parse left behind */
    opterr = 0; /* the messages are ours */
    if (operand) *operand = argc;
    for (;;) {
        int longindex = -1;
        int c = getopt_long(argc, argv, t.shorts, t.longopts, &longindex);
        if (c == -1) break;
        if (c == '?') {
            const cli_opt *o = optopt ? option_of_val(cmd, n, optopt) : NULL;
            if (o || optopt == 'h') {
                /* a known flag written --flag=value */
                char sp[80];
                return cli_usage_error(cmd, "%s takes no value", o ? spelling(o, sp, sizeof sp) : "--help");
            }
            if (optopt == 0) return unknown_long(cmd, &t, argv[optind - 1]);
            /* "-json": a long name written with one dash reads as -j -s -o -n */
            const char *elem = optind < argc ? argv[optind] : "";
            if (elem[0] == '-' && elem[1] == optopt && elem[2] && elem[2] != '-') {
                for (const struct option *lo = t.longopts; lo->name; lo++)
                    if (strcmp(lo->name, elem + 1) == 0)
                        return cli_usage_error(cmd, "unknown option '%s' (did you mean '-%s'?)", elem, elem);
            }
            return cli_usage_error(cmd, "unknown option '-%c'", optopt);
        }
        if (c == ':') {
            const cli_opt *o = option_of_val(cmd, n, optopt);
            const char *token = argv[optind - 1]; /* the option, last on the line */
            if (o && o->name && strncmp(token, "--", 2) == 0 && abbreviated(token, o->name))
                return unknown_long(cmd, &t, token);
            char sp[80];
            return cli_usage_error(cmd, "%s needs a value", o ? spelling(o, sp, sizeof sp) : "option");
        }
        if (longindex >= 0) {
            const struct option *lo = &t.longopts[longindex];
            /* the option's own element: before its value when that came separately */
            const char *token =
                lo->has_arg && optarg == argv[optind - 1] ? argv[optind - 2] : argv[optind - 1];
            if (abbreviated(token, lo->name)) return unknown_long(cmd, &t, token);
        }
        if (c == 'h') {
            print_help(cmd, stdout, n, defaults);
            return 0;
        }
        const cli_opt *o = option_of_val(cmd, n, c);
        if (!o) return cli_usage_error(cmd, "internal error: option value %d", c);
        int rc = store_value(cmd, o, optarg);
        if (rc != CLI_PARSED) return rc;
    }
    if (optind < argc) {
        if (cmd->stop_at_operand && operand) {
            *operand = optind;
            return CLI_PARSED;
        }
        if (cmd->operand && optind + 1 == argc) {
            *cmd->operand = argv[optind];
            return CLI_PARSED;
        }
        if (cmd->operand) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    }
    return CLI_PARSED;
}
