/* Shared by the mpc tests: one in-process channel pair and one two-party
 * context per party, set up once per test group. */
#ifndef CG_TEST_MPC_FIXTURE_H
#define CG_TEST_MPC_FIXTURE_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cryptogen/mpc.h"

/* The options of the fixture's contexts: CG_TEST_OT=ferret runs the tests
 * on Ferret COTs (the *.ferret ctest variants), else IKNP. */
static const cg_mpc_options *fixture_options(void)
{
    static cg_mpc_options o;
    const char *e = getenv("CG_TEST_OT");
    o.ot = e && strcmp(e, "ferret") == 0 ? CG_OT_FERRET : CG_OT_IKNP;
    return &o;
}

typedef struct {
    cg_channel *ch[2];
    cg_mpc *m[2];
    cg_prg prg;
} fixture;

typedef struct {
    cg_channel *ch;
    cg_mpc *m;
    cg_status st;
} setup_job;

static void *setup_client(void *arg)
{
    setup_job *j = arg;
    j->st = cg_mpc_new(&j->m, j->ch, CG_CLIENT, fixture_options(), NULL);
    return NULL;
}

static int group_setup(void **state)
{
    static fixture f;
    if (cg_init(NULL) != CG_OK) return -1;
    if (cg_chan_pair_new(&f.ch[0], &f.ch[1], NULL, NULL) != CG_OK) return -1;
    setup_job j = {f.ch[1], NULL, CG_OK};
    pthread_t t;
    if (pthread_create(&t, NULL, setup_client, &j)) return -1;
    cg_status st = cg_mpc_new(&f.m[0], f.ch[0], CG_SERVER, fixture_options(), NULL);
    pthread_join(t, NULL);
    if (st != CG_OK || j.st != CG_OK) return -1;
    f.m[1] = j.m;
    cg_prg_init_random(&f.prg);
    *state = &f;
    return 0;
}

static int group_teardown(void **state)
{
    fixture *f = *state;
    cg_mpc_free(f->m[0]);
    cg_mpc_free(f->m[1]);
    cg_chan_free(f->ch[0]);
    cg_chan_free(f->ch[1]);
    return 0;
}

static uint64_t maskb(unsigned bits) { return bits >= 64 ? ~0ull : (1ull << bits) - 1; }

#endif
