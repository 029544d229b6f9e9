/* The transcript test of test_gen.c (the server's view does not depend on
 * the prompt) run again over the TLS channel: between the two parties sits
 * a relay that records what the network carries to the server. For two
 * prompts of the same length, that ciphertext has the same length, its
 * bytes cannot be told apart by a chi-square test on byte frequencies, and
 * the bytes and rounds the server decrypts per component are the same. */
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cryptogen/proto.h"
#include "proto/fixed_fixture.h"
#include "proto/gen_fixture.h"
#include "proto/view_fixture.h"

static void test_server_view_independent_of_prompt_tls(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_error err = {0};
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    cg_tls_cert *cert = NULL;
    cg_tls_config *srv = NULL, *cli = NULL;
    char pin[CG_TLS_PIN_HEX + 1];
    assert_int_equal(cg_tls_self_signed(&cert, 1, &err), CG_OK);
    cg_tls_cert_pin(cert, pin);
    assert_int_equal(cg_tls_server_new(&srv, cert, &err), CG_OK);
    assert_int_equal(cg_tls_client_new(&cli, pin, NULL, &err), CG_OK);
    const uint32_t pa[3] = {1, 2, 3}, pb[3] = {299, 150, 0};
    view a = {0}, b = {0};
    server_view_of(fm, srv, cli, CG_ATTN_DEFAULT, pa, 3, 2, &a);
    server_view_of(fm, srv, cli, CG_ATTN_DEFAULT, pb, 3, 2, &b);
    assert_true(a.tls && b.tls);
    assert_views_alike(&a, &b, "network view over TLS");
    /* The network carries the handshake and the record overhead on top. */
    uint64_t payload = 0;
    for (int p = 0; p < CG_PART_COUNT; p++) payload += a.part_received[p];
    assert_true(a.len > payload);
    free(a.bytes);
    free(b.bytes);
    cg_tls_config_free(cli);
    cg_tls_config_free(srv);
    cg_tls_cert_free(cert);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_view_independent_of_prompt_tls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
