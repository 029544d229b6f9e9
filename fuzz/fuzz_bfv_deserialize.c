// layer: bfv
/* libFuzzer harness: arbitrary bytes into every BFV deserializer. The first
 * byte picks the object; a valid header is prepended half of the time so the
 * fuzzer reaches the bodies quickly. */
#include <string.h>

#include "cryptogen/bfv.h"

static cg_bfv_ctx *ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx) {
        cg_bfv_spec s;
        cg_init(NULL);
        cg_bfv_preset("test2048", &s, NULL);
        if (cg_bfv_ctx_new(&ctx, &s, NULL) != CG_OK) return 0;
    }
    if (size < 1) return 0;
    const uint8_t which = data[0] % 6, with_header = data[0] & 4;
    data++;
    size--;
    uint8_t *buf = NULL;
    size_t len = size;
    if (with_header) {
        static const uint16_t types[6] = {CG_BFV_OBJ_CT, CG_BFV_OBJ_PK, CG_BFV_OBJ_KSK, CG_BFV_OBJ_GALOIS,
                                         CG_BFV_OBJ_PLAIN, CG_BFV_OBJ_SK};
        len = 40 + size;
        buf = cg_alloc(len);
        memcpy(buf, "CGBF", 4);
        buf[4] = 1;
        buf[5] = 0;
        buf[6] = (uint8_t)types[which];
        buf[7] = 0;
        memcpy(buf + 8, cg_bfv_fingerprint(ctx), 32);
        if (size) memcpy(buf + 40, data, size);
        data = buf;
    }
    cg_error err;
    switch (which) {
    case 0: {
        cg_bfv_ct ct = {0};
        if (cg_bfv_ct_deserialize(ctx, data, len, &ct, &err) == CG_OK) cg_bfv_ct_free(&ct);
        break;
    }
    case 1: {
        cg_bfv_pk pk = {0};
        if (cg_bfv_pk_deserialize(ctx, data, len, &pk, &err) == CG_OK) cg_bfv_pk_free(&pk);
        break;
    }
    case 2: {
        cg_bfv_ksk k = {0};
        if (cg_bfv_ksk_deserialize(ctx, data, len, &k, &err) == CG_OK) cg_bfv_ksk_free(&k);
        break;
    }
    case 4: {
        cg_bfv_plain pt = {0};
        if (cg_bfv_plain_deserialize(ctx, data, len, &pt, &err) == CG_OK) cg_bfv_plain_free(&pt);
        break;
    }
    case 5: {
        cg_bfv_sk sk = {0};
        if (cg_bfv_sk_deserialize(ctx, data, len, &sk, &err) == CG_OK) cg_bfv_sk_free(&sk);
        break;
    }
    default: {
        cg_bfv_galois_keys g = {0};
        if (cg_bfv_galois_deserialize(ctx, data, len, &g, &err) == CG_OK) cg_bfv_galois_free(&g);
        break;
    }
    }
    cg_free(buf);
    return 0;
}
