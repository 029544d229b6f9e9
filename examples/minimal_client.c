/* A minimal cryptogen client: connects to a running `cryptogen serve` over
 * TLS, trusting the server certificate whose SHA-256 is PIN (`cryptogen
 * tls-cert` prints it), generates N tokens from a prompt privately and
 * prints them, as token ids on the first line and text on the second.
 *
 *   minimal_client HOST:PORT PIN MODEL_DIR "PROMPT" N
 *
 * MODEL_DIR supplies the tokenizer (vocab.json, merges.txt); the weights
 * stay on the server. Built against an installed cryptogen with either
 *   cc minimal_client.c $(pkg-config --cflags --libs --static cryptogen)
 * or the CMake project in this directory (find_package(cryptogen)). */
#include <cryptogen/cryptogen.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST:PORT PIN MODEL_DIR PROMPT N\n", argv[0]);
        return 2;
    }
    const char *server = argv[1], *pin = argv[2], *model_dir = argv[3], *prompt = argv[4];
    int n = atoi(argv[5]);
    if (n < 1) {
        fprintf(stderr, "N must be at least 1\n");
        return 2;
    }
    cg_error err = {0};
    cg_tokenizer *tok = NULL;
    cg_channel *ch = NULL;
    cg_tls_config *tls = NULL;
    uint32_t *ids = NULL, *out = NULL;
    char *text = NULL;
    size_t nids = 0, text_len = 0;
    int rc = 1;

    if (cg_init(&err) != CG_OK || cg_tokenizer_load_dir(&tok, model_dir, &err) != CG_OK ||
        cg_tokenizer_encode(tok, prompt, strlen(prompt), &ids, &nids, &err) != CG_OK)
        goto done;
    out = calloc((size_t)n, sizeof *out);
    if (!out) goto done;
    cg_gen_request req = {.use_cache = true, .prompt_len = (uint32_t)nids, .new_tokens = (uint32_t)n};
    strcpy(req.he_preset, "paper");
    cg_gen_options opt = {.threads = 1};
    if (cg_tls_client_new(&tls, pin, NULL, &err) != CG_OK) goto done;
    cg_chan_options copt = {.tls = tls};
    if (cg_connect(&ch, server, &copt, &err) != CG_OK ||
        cg_gen_client(ch, &req, ids, out, &opt, &err) != CG_OK ||
        cg_tokenizer_decode(tok, out, (size_t)n, &text, &text_len, &err) != CG_OK)
        goto done;
    for (int i = 0; i < n; i++) printf("%s%u", i ? "," : "", out[i]);
    printf("\n%.*s\n", (int)text_len, text);
    rc = 0;
done:
    if (rc) fprintf(stderr, "minimal_client: %s\n", err.msg[0] ? err.msg : "out of memory");
    cg_free(text);
    cg_free(ids);
    free(out);
    cg_chan_free(ch);
    cg_tls_config_free(tls);
    cg_tokenizer_free(tok);
    return rc;
}
