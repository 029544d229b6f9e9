/* Galois expansion keys for GPT-2 base (6 levels) at the paper set, t = 2^37:
 * keygen time, serialized bytes, and the expansion of one 48-chunk and one
 * 12-chunk packed ciphertext (threads 2). PERFORMANCE.md, stop 26, has the
 * command; a measurement aid, not part of the build (statuses unchecked). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cryptogen/bfv.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(void){
  cg_error err={0}; cg_init(&err);
  cg_bfv_spec spec; cg_bfv_preset("paper",&spec,&err); spec.t=1ull<<37;
  cg_bfv_ctx *c=NULL; cg_bfv_ctx_new(&c,&spec,&err); cg_bfv_set_threads(c,2);
  cg_bfv_sk sk={0}; cg_bfv_pk pk={0}; cg_bfv_keygen(c,&sk,&pk,&err);
  uint32_t elts[16]; size_t ne=cg_bfv_expand_elts(c,6,elts);
  cg_bfv_galois_keys gk={0};
  double t0=now(); cg_bfv_keygen_galois_elts(c,&sk,elts,ne,&gk,&err); double t1=now();
  cg_buf b={0}; cg_bfv_galois_serialize(c,&gk,&b,&err);
  printf("keys %zu: keygen %.3f s, %zu bytes\n", ne, t1-t0, b.len);
  cg_bfv_plain pt={0}; cg_bfv_plain_alloc(c,&pt,&err); memset(pt.coeffs,0,8192*8);
  for (size_t B=12; B<=48; B+=36){
    cg_bfv_ct ct={0}; cg_bfv_encrypt_sk_packed(c,&sk,&pt,cg_bfv_expand_levels(B),&ct,&err);
    cg_bfv_ct outs[48]; memset(outs,0,sizeof outs);
    cg_bfv_expand(c,&gk,&ct,B,outs,&err);
    double best=1e9;
    for(int r=0;r<5;r++){double a=now(); cg_bfv_expand(c,&gk,&ct,B,outs,&err); double d=now()-a; if(d<best)best=d;}
    printf("expand %zu chunks: %.4f s (best of 5), %.2f ms per key switch\n", B, best, best*1e3/(B-1));
  }
  return 0;
}
