/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <minionize/plugin.h>

#include "decoder.h"

static int json(const char *text, size_t len, char *err)
{
    err[0] = '\0';
    return decoder_check(MINION_DECODER_JSON, text, len, err, 128);
}

static void valid_json_passes(void **state)
{
    const char *ok[] = {"1",           "\"s\"",
                        "[1,2,\"x\"]", "{\"a\":{\"b\":null}}",
                        "  true \n",   "-1.5e3"};
    char err[128];

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(json(ok[i], strlen(ok[i]), err), 0);
        assert_string_equal(err, "");
    }
}

static void invalid_json_names_the_byte(void **state)
{
    char err[128];

    assert_int_equal(json("{\"a\":}", 6, err), -22);
    assert_string_equal(err, "param is not valid JSON (at byte 6)");
    assert_int_equal(json("not json", 8, err), -22);
    assert_non_null(strstr(err, "param is not valid JSON"));
    assert_int_equal(json("", 0, err), -22);
    /* Trailing text after a valid value is not one JSON value. */
    assert_int_equal(json("{\"a\":1} x", 9, err), -22);
    assert_string_equal(err, "param is not valid JSON (at byte 9)");
    assert_int_equal(json("[1,2", 4, err), -22);
}

/* Valid JSON that nests too deep for the decoder says so, not "invalid". */
static void deep_nesting_is_named(void **state)
{
    char text[4096], err[128];
    size_t n = 0;

    for (int i = 0; i < 1500; i++) {
        text[n++] = '[';
    }
    for (int i = 0; i < 1500; i++) {
        text[n++] = ']';
    }
    assert_int_equal(json(text, n, err), -22);
    assert_non_null(strstr(err, "nested deeper than 1000"));
    /* Brackets inside strings do not count. */
    assert_int_equal(json("[\"[[[[\", 1, {\"a\": \"}\"}]", 23, err), 0);
}

static void nul_bytes_are_refused(void **state)
{
    const char param[] = "{\"a\":1}\0junk";
    char err[128];

    assert_int_equal(json(param, sizeof(param) - 1, err), -22);
    assert_string_equal(err, "param is not valid JSON: NUL byte at byte 8");
}

static void identity_accepts_anything(void **state)
{
    const char param[] = "raw\0bytes {";
    char err[128] = "";

    assert_int_equal(decoder_check(MINION_DECODER_IDENTITY, param,
                                   sizeof(param) - 1, err, sizeof(err)),
                     0);
    assert_string_equal(err, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_json_passes),
        cmocka_unit_test(invalid_json_names_the_byte),
        cmocka_unit_test(nul_bytes_are_refused),
        cmocka_unit_test(deep_nesting_is_named),
        cmocka_unit_test(identity_accepts_anything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
