/* One secure session over the in-process channel with the server's and the
 * client's options as given: both statuses and messages, and the bytes the
 * client sent (the server runs in a thread; a failing client frees its end
 * so that the server returns). */
#ifndef CG_TESTS_SESSION_FIXTURE_H
#define CG_TESTS_SESSION_FIXTURE_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cryptogen/proto.h"

typedef struct session_server {
    cg_channel *ch;
    const cg_fixed_model *fm;
    cg_gen_options o;
    cg_status st;
    cg_error err;
} session_server;

static inline void *session_server_main(void *arg)
{
    session_server *j = arg;
    j->st = cg_gen_server(j->ch, j->fm, &j->o, &j->err);
    return NULL;
}

typedef struct outcome {
    cg_status client, server;
    cg_error cerr, serr;
    uint64_t client_sent;
} outcome;

static inline outcome run_session(const cg_fixed_model *fm, const cg_gen_options *so,
                                  const cg_gen_request *req, const cg_gen_options *co,
                                  const uint32_t *prompt, uint32_t *out)
{
    cg_channel *a = NULL, *b = NULL;
    outcome r = {0};
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &r.cerr), CG_OK);
    session_server sj = {.ch = b, .fm = fm, .o = *so};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, session_server_main, &sj), 0);
    r.client = cg_gen_client(a, req, prompt, out, co, &r.cerr);
    cg_chan_stats cs;
    cg_chan_get_stats(a, &cs);
    r.client_sent = cs.total.bytes_sent;
    if (r.client != CG_OK) {
        cg_chan_free(a); /* unblocks the server */
        a = NULL;
    }
    pthread_join(t, NULL);
    r.server = sj.st;
    r.serr = sj.err;
    cg_chan_free(a);
    cg_chan_free(b);
    return r;
}

#endif
