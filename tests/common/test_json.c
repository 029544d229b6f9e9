/* The common layer's JSON reader: values, escapes, and the inputs it must
 * refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cryptogen/common.h"

static void test_json_reader(void **state)
{
    (void)state;
    cg_json_doc doc;
    const char *ok = "{\"a\": [1, -2.5e3, true, false, null], \"s\": \"x\\u00e9\\ud83d\\ude00\\n\", \"o\": {}}";
    assert_int_equal(cg_json_parse(ok, strlen(ok), &doc, "t", NULL), CG_OK);
    const cg_json *a = cg_json_get(&doc.root, "a"), *s = cg_json_get(&doc.root, "s");
    assert_int_equal(a->len, 5);
    assert_true(a->kids[1].num == -2500.0);
    assert_string_equal(s->str, "x\xc3\xa9\xf0\x9f\x98\x80\n");
    cg_json_free(&doc);
    const char *bad[] = {"", "{", "{\"a\":}", "[1,]", "\"\\ud800\"", "\"a\nb\"", "[1] x", "{\"a\" 1}",
                         "nul", "[1e999]", "\"\\x\"",
                         /* duplicate keys, also when only an escape tells them apart */
                         "{\"a\": 1, \"a\": 2}", "{\"b\": 1, \"a\": {}, \"\\u0062\": 3}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cg_error err = {0};
        assert_int_equal(cg_json_parse(bad[i], strlen(bad[i]), &doc, "t", &err), CG_ERR_FORMAT);
        /* a failed parse leaves nothing behind, and freeing it is harmless */
        assert_null(doc.arena);
        cg_json_free(&doc);
    }
    /* same key in different objects is fine */
    const char *nested = "{\"a\": {\"a\": 1}, \"b\": {\"a\": 2}}";
    assert_int_equal(cg_json_parse(nested, strlen(nested), &doc, "t", NULL), CG_OK);
    cg_json_free(&doc);
    char deep[200];
    memset(deep, '[', sizeof deep);
    assert_int_equal(cg_json_parse(deep, sizeof deep, &doc, "t", NULL), CG_ERR_FORMAT);
    /* a key that is absent, or asked of a non-object */
    const char *arr = "[{\"k\": 1}]";
    assert_int_equal(cg_json_parse(arr, strlen(arr), &doc, "t", NULL), CG_OK);
    assert_null(cg_json_get(&doc.root, "k"));
    assert_non_null(cg_json_get(&doc.root.kids[0], "k"));
    assert_null(cg_json_get(&doc.root.kids[0], "x"));
    cg_json_free(&doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
