#ifndef CG_CLI_GEN_CLIENT_H
#define CG_CLI_GEN_CLIENT_H

#include <pthread.h>
#include <stdio.h>

#include "cryptogen/proto.h"

typedef struct cli_gen_summary {
    double setup_seconds, prefill_seconds, decode_seconds;
    size_t decode_steps;
    uint32_t prompt_len;
    size_t tokens;           /* tokens the session made (fewer than asked after an early stop) */
    const char *stop_reason; /* NULL, "end-of-text" or "stop string" */
    char *text;              /* the continuation up to any stop (cg_alloc'ed: cli_gen_summary_free) */
    size_t text_len;
    uint64_t setup_sent, setup_received, sent, received, rounds;
    double decode_parts[CG_PART_COUNT];
    cg_gen_step_report last;
} cli_gen_summary;

/* A server thread on 127.0.0.1 (any free port) that serves exactly one
 * session: for the demo and the benchmark, which run both parties. */
typedef struct cli_loopback {
    cg_listener *l;
    const cg_fixed_model *fm;
    const cg_gen_weights *ws;
    cg_chan_options copt;
    int threads;
    pthread_t thread;
    bool running;
    cg_status st;
    cg_error err;
    cg_gen_step_report last; /* the server's report of its last step */
    char addr[64];
} cli_loopback;
cg_status cli_loopback_start(cli_loopback *lb, const cg_fixed_model *fm, const cg_gen_weights *ws,
                             int threads, const cg_chan_options *copt, cg_error *err);
/* Waits for the session to end; its status (and message) if it failed. */
cg_status cli_loopback_join(cli_loopback *lb, cg_error *err);

/* How the secure client shows its work. */
typedef enum cli_progress {
    CLI_PROGRESS_NONE,
    CLI_PROGRESS_LINE, /* a status line on stderr when it is a terminal (cli/status.h) */
    CLI_PROGRESS_JSON, /* one JSON object per event on stderr */
} cli_progress;
typedef struct cli_output {
    bool print_text;      /* stream the prompt, then each token's text, on stdout */
    const char *prompt;   /* echoed just before the first token (print_text) */
    size_t prompt_len;
    cli_progress progress;
    /* Stop conditions: GPT-2's end-of-text token (id 50256) and a string in
     * the text (neither is printed). hide_stop: go on to -n tokens anyway,
     * printing nothing more, so the server does not learn where it stopped. */
    bool stop_at_eos;
    const char *stop_string;
    bool hide_stop;
    cg_gen_attention attention; /* asked of the server (--attention) */
} cli_output;

#define CLI_GPT2_EOS 50256u

/* Secure client over ch, showing its progress as o asks. */
cg_status cli_secure_generate(cg_channel *ch, const cg_tokenizer *tok, const uint32_t *ids,
                              const cg_gen_request *req, int threads, const cli_output *o,
                              uint32_t *out, cli_gen_summary *sum, cg_error *err);
void cli_gen_summary_free(cli_gen_summary *s);
/* The local references under the same stop rules: sum gets the tokens
 * kept, the text and the reason, as the secure run would. */
cg_status cli_apply_stops(const cg_tokenizer *tok, const cli_output *o, const uint32_t *tokens, size_t n,
                          cli_gen_summary *sum, cg_error *err);

/* Greedy tokens of the float model (fm NULL) or of the emulator. */
cg_status cli_local_generate(const cg_gpt2 *m, const cg_fixed_model *fm, const uint32_t *ids,
                             size_t nids, size_t n, int threads, uint32_t *out, cg_error *err);
void cli_print_summary_json(FILE *f, const cli_gen_summary *s, const cg_gen_request *req,
                            const uint32_t *tokens, const char *text);
void cli_print_summary_text(FILE *f, const cli_gen_summary *s);

#endif
