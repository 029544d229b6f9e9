/* The fixed-point model of a float model, for the tests that build one
 * from a random GPT-2. */
#ifndef CG_TESTS_FIXED_FIXTURE_H
#define CG_TESTS_FIXED_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cryptogen/model.h"

static inline cg_fixed_model *fixed_model_of(const cg_gpt2 *m, cg_fixed_config fx)
{
    cg_fixed_model *fm = NULL;
    cg_error err = {0};
    assert_int_equal(cg_fixed_model_new(&fm, m, fx, &err), CG_OK);
    return fm;
}

#endif
