/* GPT-2's massive activations injected into a random model, as
 * scripts/make_stress_model.py does to a trained one: channels C1 (+) and
 * C2 (-) hold value/3 in wpe[0] and get value/3 more from one MLP neuron in
 * each of layers 0 and 1, so they reach +-value at position 0 from layer 2
 * on; every other use of the two channels is removed. */
#ifndef CG_TESTS_STRESS_FIXTURE_H
#define CG_TESTS_STRESS_FIXTURE_H

#include <math.h>

#include "cryptogen/model.h"

#define STRESS_C1 3
#define STRESS_C2 11

/* steps 3: wpe[0] and the MLPs of layers 0 and 1 add value / 3 each;
 * steps 1: wpe[0] holds a marker of 10 and layer 1's MLP writes the rest at
 * once (an MLP output beyond 2,048 at value 3,000: needs w = 11). */
static inline void stress_inject_steps(cg_gpt2 *m, double value, int steps)
{
    const size_t d = m->cfg.n_embd, V = m->cfg.vocab_size, P = m->cfg.n_positions, F = 4 * d;
    const size_t ch[2] = {STRESS_C1, STRESS_C2};
    const float sg[2] = {1.0f, -1.0f};
    const double ln_c = sqrt((double)d / 2.0), thr = 4.0; /* ln_out[c] at position 0 */
    float *wte = (float *)m->wte, *wpe = (float *)m->wpe;
    for (int k = 0; k < 2; k++) {
        const size_t c = ch[k];
        for (size_t v = 0; v < V; v++) wte[v * d + c] = 0;
        for (size_t p = 0; p < P; p++) wpe[p * d + c] = 0;
        const double first = steps == 1 ? 10.0 : value / 3, per = steps == 1 ? value - 10.0 : value / 3;
        wpe[c] = sg[k] * (float)first;
        ((float *)m->lnf_w)[c] = ((float *)m->lnf_b)[c] = 0;
        for (uint32_t l = 0; l < m->cfg.n_layer; l++) {
            cg_gpt2_layer *L = &m->layers[l];
            float *fc_w = (float *)L->fc_w, *fc_b = (float *)L->fc_b;
            float *fc2_w = (float *)L->fc2_w, *proj_w = (float *)L->proj_w;
            ((float *)L->ln1_w)[c] = ((float *)L->ln1_b)[c] = 0;
            ((float *)L->proj_b)[c] = ((float *)L->fc2_b)[c] = ((float *)L->ln2_b)[c] = 0;
            for (size_t i = 0; i < d; i++) proj_w[i * d + c] = 0;
            for (size_t j = 0; j < F; j++) fc_w[c * F + j] = 0;
            for (size_t j = 0; j < F; j++) fc2_w[j * d + c] = 0;
            const bool inj = steps == 1 ? l == 1 : l < 2;
            ((float *)L->ln2_w)[c] = inj ? 1.0f : 0.0f;
            if (!inj) continue;
            const size_t j = (size_t)k; /* the injecting neuron */
            for (size_t i = 0; i < d; i++) fc_w[i * F + j] = 0;
            fc_w[c * F + j] = sg[k];
            fc_b[j] = (float)-thr;
            for (size_t o = 0; o < d; o++) fc2_w[j * d + o] = 0;
            fc2_w[j * d + c] = sg[k] * (float)(per / (ln_c - thr));
        }
    }
}

static inline void stress_inject(cg_gpt2 *m, double value) { stress_inject_steps(m, value, 3); }

/* A random GPT-2-shaped model (3 layers, 128 wide, 2 heads of 64) with the
 * outliers. */
static inline cg_gpt2 *stress_model_steps(double value, int steps)
{
    cg_gpt2_config cfg = {.n_layer = 3, .n_head = 2, .n_embd = 128, .n_positions = 64,
                          .vocab_size = 300, .ln_eps = 1e-5f};
    cg_gpt2 *m = NULL;
    cg_error err = {0};
    if (cg_gpt2_random(&m, &cfg, 16, &err) != CG_OK) return NULL;
    stress_inject_steps(m, value, steps);
    return m;
}

static inline cg_gpt2 *stress_model(double value) { return stress_model_steps(value, 3); }

#endif
