/* Row maxima and the argmax through both kinds of tournament level: rows
 * long enough that the first levels pair entries and the later ones group
 * four or eight (the argmax pairs while more than 1,024 are left, row
 * maxima while more than 8,192; GPT-2's 50,257 logits), short groups of
 * every size, ties (the lowest index wins), values over the whole
 * difference range, and rings where the index does not fit beside the
 * value in one OT message (pairwise levels only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mpc_ops.h"

enum { BIG = 50257 };
static uint64_t v[BIG], x0[BIG], x1[BIG], o0[BIG], o1[BIG];

static void run_max(fixture *f, enum op op, unsigned bits, size_t rows, size_t cols)
{
    size_t n = rows * cols;
    split(&f->prg, bits, n, v, x0, x1);
    io s = {.m = f->m[0], .op = op, .bits = bits, .n = n, .rows = rows, .cols = cols, .x = x0,
            .out = o0};
    io c = s;
    c.m = f->m[1];
    c.x = x1;
    c.out = o1;
    o0[0] = o1[0] = 0xdeadbeef;
    run_both(&s, &c);
}

/* Small values (many ties) within the difference range of the ring. */
static void fill_small(fixture *f, unsigned bits, size_t n, unsigned spread)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (uint64_t)((int64_t)(cg_prg_u64(&f->prg) % spread) - (int64_t)spread / 2) & maskb(bits);
}

static void test_argmax_mixed_levels(void **state)
{
    fixture *f = *state;
    const unsigned rings[] = {17, 37, 50, 63};
    const size_t sizes[] = {9001, 8193, 5, 6, 7, 4097, 2049, 2048, 513, 65, BIG, 1, 1025, 1024};
    for (size_t ri = 0; ri < sizeof rings / sizeof rings[0]; ri++)
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
            unsigned bits = rings[ri];
            size_t n = sizes[z];
            if (bits < 64 && n > (1ull << (bits - 1))) continue;
            if (n == BIG && bits != 37) continue; /* the token's shape once */
            fill_small(f, bits, n, z % 2 ? 5 : 1000);
            if (z == 1) v[n - 1] = 600; /* unique max in the last slot */
            if (z == 6) /* any values whose differences fit the ring */
                for (size_t i = 0; i < n; i++) v[i] = (cg_prg_u64(&f->prg) >> 2) & maskb(bits - 1);
            if (z == 7) v[0] = v[n - 1] = 2000; /* tie of the first and the last */
            run_max(f, OP_ARGMAX, bits, 1, n);
            size_t want = 0;
            for (size_t i = 1; i < n; i++)
                if (as_signed(bits, v[i]) > as_signed(bits, v[want])) want = i;
            assert_int_equal(o1[0], want);
            assert_int_equal(o0[0], 0xdeadbeef);
        }
}

static void test_row_max_mixed_levels(void **state)
{
    fixture *f = *state;
    const size_t shapes[][2] = {{3, 3000}, {12, 64}, {12, 513}, {7, 2}, {2, 9}, {1000, 9}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        size_t rows = shapes[k][0], cols = shapes[k][1], n = rows * cols;
        const unsigned bits = 37;
        for (size_t i = 0; i < n; i++)
            v[i] = (uint64_t)((int64_t)(cg_prg_u64(&f->prg) >> 29) - ((int64_t)1 << 34)) & maskb(bits);
        if (k == 1) fill_small(f, bits, n, 3);
        run_max(f, OP_ROWMAX, bits, rows, cols);
        for (size_t r = 0; r < rows; r++) {
            int64_t want = as_signed(bits, v[r * cols]);
            for (size_t j = 1; j < cols; j++)
                if (as_signed(bits, v[r * cols + j]) > want) want = as_signed(bits, v[r * cols + j]);
            assert_int_equal(as_signed(bits, (o0[r] + o1[r]) & maskb(bits)), want);
        }
    }
}

/* Softmax's maxima (exact mode against the reference) over batches whose
 * fan plans differ from the fixed rule: more than 8,192 entries (pairwise
 * levels first, then the plan), causal lengths of every size, and the
 * decode shapes with one-flight selects on all levels but the last. */
static void test_softmax_plans(void **state)
{
    fixture *f = *state;
    const cg_fxp fx = {.ring_bits = 37, .frac_bits = 12};
    const unsigned l = fx.ring_bits;
    const size_t shapes[][3] = {{24, 400, 1}, {40, 200, 0}, {12, 512, 2}, {12, 16, 2}, {5, 129, 0}};
    static size_t lens[64];
    static int64_t xr[512], want[512];
    cg_mpc_set_exact(f->m[0], true);
    cg_mpc_set_exact(f->m[1], true);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        size_t rows = shapes[k][0], cols = shapes[k][1], n = rows * cols, mode = shapes[k][2];
        for (size_t i = 0; i < n; i++) {
            double r = ((double)cg_prg_uniform(&f->prg, 200001) / 100000.0 - 1.0) * 12.0;
            v[i] = (uint64_t)cg_fxp_encode(fx, r) & maskb(l);
        }
        for (size_t r = 0; r < rows; r++)
            lens[r] = mode == 1 ? cols - r : mode == 2 ? cols : (r * 7 + 1) % cols + 1;
        if (k == 2) v[5 * cols + 3] = v[5 * cols + 300]; /* a tied maximum's neighbourhood */
        split(&f->prg, l, n, v, x0, x1);
        io s = {.m = f->m[0], .op = OP_SOFTMAX, .bits = l, .n = n, .rows = rows, .cols = cols,
                .x = x0, .out = o0, .fx = fx, .row_len = lens};
        io c = s;
        c.m = f->m[1];
        c.x = x1;
        c.out = o1;
        run_both(&s, &c);
        for (size_t r = 0; r < rows; r++) {
            for (size_t j = 0; j < lens[r]; j++) xr[j] = as_signed(l, v[r * cols + j]);
            assert_int_equal(cg_fxp_ref_softmax(fx, xr, lens[r], want, NULL), CG_OK);
            for (size_t j = 0; j < cols; j++) {
                int64_t got = as_signed(l, (o0[r * cols + j] + o1[r * cols + j]) & maskb(l));
                assert_int_equal(got, j < lens[r] ? want[j] : 0);
            }
        }
    }
    cg_mpc_set_exact(f->m[0], false);
    cg_mpc_set_exact(f->m[1], false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argmax_mixed_levels),
        cmocka_unit_test(test_row_max_mixed_levels),
        cmocka_unit_test(test_softmax_plans),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
