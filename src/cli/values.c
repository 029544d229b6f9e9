/* Model shapes and integer lists given on the command line (values.h). */
#include "cli/values.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads "a,b,c" of integers below 2^32 into out (when not NULL); *n gets
 * the count. Every element must be digits only: strtoul alone would take
 * blanks, signs (wrapping "-1") and an empty element. */
static bool scan_u32_list(const char *s, uint32_t *out, size_t *n)
{
    *n = 0;
    for (const char *p = s;; p++) {
        if (!isdigit((unsigned char)*p)) return false;
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno == ERANGE || v > UINT32_MAX) return false;
        if (out) out[*n] = (uint32_t)v;
        (*n)++;
        p = end;
        if (*p == '\0') return true;
        if (*p != ',') return false;
    }
}

static bool shape_of(const char *s, cg_gpt2_config *cfg, char *why, size_t why_size)
{
    if (cg_gpt2_named_config(s, cfg, NULL) == CG_OK) return true; /* gpt2-base ... gpt2-xl */
    uint32_t v[5];
    size_t n = 0;
    if (strlen(s) > 64 || !scan_u32_list(s, NULL, &n) || n != 5) {
        snprintf(why, why_size, "is not gpt2-base (gpt2-medium, gpt2-large, gpt2-xl, distilgpt2) or layers,heads,width,vocab,positions");
        return false;
    }
    scan_u32_list(s, v, &n);
    *cfg = (cg_gpt2_config){.n_layer = v[0], .n_head = v[1], .n_embd = v[2], .vocab_size = v[3],
                            .n_positions = v[4], .ln_eps = 1e-5f};
    cg_error err = {0};
    if (cg_gpt2_config_check(cfg, &err) != CG_OK) {
        snprintf(why, why_size, "is not a valid shape: %s", err.msg);
        return false;
    }
    return true;
}

bool cli_parse_shape(const char *s, cg_gpt2_config *cfg)
{
    char why[128];
    return shape_of(s, cfg, why, sizeof why);
}

bool cli_check_shape(const char *s, char *why, size_t why_size)
{
    cg_gpt2_config cfg;
    return shape_of(s, &cfg, why, why_size);
}

bool cli_parse_ids(const char *s, uint32_t **ids, size_t *n)
{
    *ids = NULL;
    if (!scan_u32_list(s, NULL, n)) return false;
    *ids = cg_alloc(*n * sizeof **ids); /* cg_free, like the tokenizer's ids */
    if (!*ids) return false;
    scan_u32_list(s, *ids, n);
    return true;
}

bool cli_check_ids(const char *s, char *why, size_t why_size)
{
    size_t n;
    if (scan_u32_list(s, NULL, &n)) return true;
    snprintf(why, why_size, "is not a comma-separated list of whole numbers below 2^32");
    return false;
}

const char *const cli_otn_names[] = {[CG_OTN_KK13] = "kk13", [CG_OTN_SPLIT] = "split", NULL};

const char *const cli_ot_names[] = {[CG_OT_IKNP] = "iknp", [CG_OT_FERRET] = "ferret", NULL};

cg_ot_kind cli_ot_kind(const char *name)
{
    return strcmp(name, cli_ot_names[CG_OT_FERRET]) == 0 ? CG_OT_FERRET : CG_OT_IKNP;
}

const char *const cli_attention_names[] = {"default", "ctct", "split", NULL};

int cli_attention_kind(const char *name)
{
    for (int i = 0; cli_attention_names[i]; i++)
        if (strcmp(name, cli_attention_names[i]) == 0) return i;
    return 0;
}

cg_otn_kind cli_otn_kind(const char *name)
{
    return strcmp(name, cli_otn_names[CG_OTN_SPLIT]) == 0 ? CG_OTN_SPLIT : CG_OTN_KK13;
}

cg_status cli_read_stdin(size_t max, char **out, size_t *len, cg_error *err)
{
    char *buf = cg_alloc(max + 1);
    if (!buf) return cg_error_set(err, CG_ERR_NOMEM, "standard input buffer");
    size_t n = 0;
    for (;;) {
        ssize_t r = read(STDIN_FILENO, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            cg_free(buf);
            return cg_error_set(err, CG_ERR_IO, "reading standard input: %s", strerror(errno));
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n > max) {
            cg_free(buf);
            return cg_error_set(err, CG_ERR_ARG, "standard input holds more than %zu bytes", max);
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return CG_OK;
}
