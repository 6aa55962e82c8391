/* SPDX-License-Identifier: MIT */
/* tests/lib/test_argv.c: the param-to-argv rules (lib/argv.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "argv.h"

#define IDENTITY 0
#define JSON 1

/* Build @param against the template @words (NULL-terminated) and compare
 * with @want (NULL-terminated). */
static void expect_argv(char *const *words, int json, const char *param,
                        size_t len, const char *const *want)
{
    int argc = 0;
    struct argv_template *t;
    char **argv = NULL;
    char err[256];
    size_t i;

    while (words[argc] != NULL) {
        argc++;
    }
    t = argv_template_new(argc, words);
    assert_non_null(t);
    assert_int_equal(argv_build(t, json, param, len, &argv, err, sizeof(err)),
                     0);
    assert_non_null(argv);
    for (i = 0; want[i] != NULL; i++) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], want[i]);
    }
    assert_null(argv[i]);
    free(argv);
    argv_template_free(t);
}

/* Build and expect @want (-EINVAL: the param's bytes; -ENOENT: a
 * placeholder it cannot fill) with an error holding @needle. */
static void expect_failure(char *const *words, int json, const char *param,
                           size_t len, int want, const char *needle)
{
    int argc = 0;
    struct argv_template *t;
    char **argv = (char **)1;
    char err[256];

    while (words[argc] != NULL) {
        argc++;
    }
    t = argv_template_new(argc, words);
    assert_non_null(t);
    assert_int_equal(argv_build(t, json, param, len, &argv, err, sizeof(err)),
                     want);
    assert_null(argv);
    if (strstr(err, needle) == NULL) {
        fail_msg("error \"%s\" does not say \"%s\"", err, needle);
    }
    argv_template_free(t);
}

static void expect_error(char *const *words, int json, const char *param,
                         size_t len, const char *needle)
{
    expect_failure(words, json, param, len, -EINVAL, needle);
}

static void expect_unfilled(char *const *words, int json, const char *param,
                            size_t len, const char *needle)
{
    expect_failure(words, json, param, len, -ENOENT, needle);
}

#define P(s) (s), strlen(s)
#define W(...) ((char *const[]){__VA_ARGS__, NULL})
#define A(...) ((const char *const[]){__VA_ARGS__, NULL})

static void append_identity(void **state)
{
    expect_argv(W("echo"), IDENTITY, P("hello world"),
                A("echo", "hello world"));
    expect_argv(W("grep", "-c", "x"), IDENTITY, P("a b"),
                A("grep", "-c", "x", "a b"));
    /* Identity never parses: a JSON array is one argument. */
    expect_argv(W("echo"), IDENTITY, P("[1,2]"), A("echo", "[1,2]"));
    expect_argv(W("echo"), IDENTITY, P(""), A("echo", ""));
}

static void append_json(void **state)
{
    expect_argv(W("echo", "-n"), JSON, P("[\"a b\", 2, 1.5, true, null]"),
                A("echo", "-n", "a b", "2", "1.5", "true", "null"));
    expect_argv(W("echo"), JSON, P("[[1, 2], {\"k\": \"v\"}]"),
                A("echo", "[1,2]", "{\"k\":\"v\"}"));
    expect_argv(W("echo"), JSON, P("[]"), A("echo"));
    expect_argv(W("echo"), JSON, P("\"quoted text\""),
                A("echo", "quoted text"));
    expect_argv(W("echo"), JSON, P("42"), A("echo", "42"));
    expect_argv(W("echo"), JSON, P("{ \"a\" : [ 1, \"x\" ] }"),
                A("echo", "{\"a\":[1,\"x\"]}"));
    expect_argv(W("echo"), JSON, P("\"\\u00e9\\n\""), A("echo", "\xc3\xa9\n"));
}

static void whole_param(void **state)
{
    expect_argv(W("cp", "{}", "out-{}.txt"), IDENTITY, P("in"),
                A("cp", "in", "out-in.txt"));
    expect_argv(W("touch", "{}{}"), IDENTITY, P("ab"), A("touch", "abab"));
    /* Placeholders replace appending. */
    expect_argv(W("echo", "x={}", "end"), IDENTITY, P("1"),
                A("echo", "x=1", "end"));
    /* Identity keeps the raw text, quotes and all. */
    expect_argv(W("echo", "[{}]"), IDENTITY, P("\"s\""), A("echo", "[\"s\"]"));
    /* Under json a string loses its quotes, the rest is compact JSON. */
    expect_argv(W("echo", "[{}]"), JSON, P("\"s\""), A("echo", "[s]"));
    expect_argv(W("echo", "{}"), JSON, P("[1, 2]"), A("echo", "[1,2]"));
    expect_argv(W("echo", "{}"), JSON, P(" {\"a\": 1} "),
                A("echo", "{\"a\":1}"));
}

static void fields(void **state)
{
    const char *obj = "{\"n\": 3, \"f\": 2.5, \"big\": 3000000000, "
                      "\"s\": \"two words\", \"b\": false, \"z\": null, "
                      "\"o\": {\"x\": [1, \"y\"]}, \"a.b\": \"dotted\", "
                      "\"list\": [\"l0\", \"l1\"], \"neg\": -7}";

    expect_argv(
        W("run", "--n={n}", "{f}", "{big}", "{s}", "{b}", "{z}"), IDENTITY,
        P(obj),
        A("run", "--n=3", "2.5", "3000000000", "two words", "false", "null"));
    /* Nested values are compact JSON; dots walk into objects and arrays,
     * but an exact key wins. */
    expect_argv(
        W("run", "{o}", "{o.x}", "{o.x.1}", "{a.b}", "{list.1}"), IDENTITY,
        P(obj),
        A("run", "{\"x\":[1,\"y\"]}", "[1,\"y\"]", "y", "dotted", "l1"));
    expect_argv(W("run", "out-{s}-{neg}.txt"), JSON, P(obj),
                A("run", "out-two words--7.txt"));
    /* {} and {name} together: {} is the raw text under identity. */
    expect_argv(W("run", "{n}", "{}"), IDENTITY, P("{\"n\":1}"),
                A("run", "1", "{\"n\":1}"));
    expect_argv(W("run", "{_x-y}"), JSON, P("{\"_x-y\": \"ok\"}"),
                A("run", "ok"));
}

static void missing_field(void **state)
{
    expect_unfilled(W("run", "{n}", "{missing}"), IDENTITY, P("{\"n\": 1}"),
                    "missing");
    expect_unfilled(W("run", "{o.nope}"), JSON, P("{\"o\": {}}"), "o.nope");
    expect_unfilled(W("run", "{list.5}"), JSON, P("{\"list\": [1]}"), "list.5");
    /* The error says how to write the braces themselves. */
    expect_unfilled(W("awk", "{print}"), IDENTITY, P("{}"), "{{print}}");
}

static void not_an_object(void **state)
{
    const char *want = "placeholder {name} needs a JSON object param";

    expect_unfilled(W("run", "{name}"), IDENTITY, P("plain text"), want);
    expect_unfilled(W("run", "{name}"), JSON, P("[1, 2]"), want);
    expect_unfilled(W("run", "{name}"), JSON, P("\"s\""), want);
    expect_unfilled(W("run", "{name}"), IDENTITY, P("{\"name\": 1} trailing"),
                    want);
}

static void bad_json(void **state)
{
    expect_error(W("echo"), JSON, P("{oops"), "not valid JSON");
    expect_error(W("echo", "{}"), JSON, P("[1,"), "not valid JSON");
    expect_error(W("echo"), JSON, P(""), "not valid JSON");
    expect_error(W("echo"), JSON, P("1 2"), "not valid JSON");
}

static void nul_byte(void **state)
{
    expect_error(W("echo"), IDENTITY, "a\0b", 3, "NUL");
    expect_error(W("echo", "x{}"), IDENTITY, "a\0b", 3, "NUL");
    expect_error(W("echo"), JSON, "\"a\0b\"", 5, "NUL");
    /* A NUL spelled as an escape would cut the string short. */
    expect_error(W("echo"), JSON, P("\"a\\u0000b\""), "NUL");
    expect_error(W("echo", "{k}"), IDENTITY, P("{\"k\": \"a\\u0000\"}"), "NUL");
    /* An escaped backslash before u0000 is no NUL. */
    expect_argv(W("echo"), JSON, P("\"\\\\u0000\""), A("echo", "\\u0000"));
    /* cJSON would cut the string even when printing it back as JSON. */
    expect_error(W("echo"), JSON, P("[[\"\\u0000\"]]"), "NUL");
    /* Identity does not parse: the escape is plain text there. */
    expect_argv(W("echo"), IDENTITY, P("\"\\u0000\""),
                A("echo", "\"\\u0000\""));
}

static void literal_braces(void **state)
{
    expect_argv(
        W("awk", "{ print $1 }", "{1x}", "{a b}", "{", "}", "{{}"), IDENTITY,
        P("f.txt"),
        A("awk", "{ print $1 }", "{1x}", "{a b}", "{", "}", "{}", "f.txt"));
    expect_argv(W("awk", "{{{}}}"), IDENTITY, P("f.txt"), A("awk", "{f.txt}"));
    expect_argv(W("awk", "{print $2}", "{ x }"), JSON, P("[\"f\"]"),
                A("awk", "{print $2}", "{ x }", "f"));
    /* The program is never rewritten. */
    expect_argv(W("{}"), IDENTITY, P("p"), A("{}", "p"));
}

/* `{{name}}` writes braces; `${...}` is shell syntax, never a field. */
static void escapes(void **state)
{
    expect_argv(W("awk", "{{print}}"), IDENTITY, P("f.txt"),
                A("awk", "{print}", "f.txt"));
    expect_argv(W("awk", "BEGIN{{if (1) {{print}}}}", "{}"), IDENTITY, P("f"),
                A("awk", "BEGIN{if (1) {print}}", "f"));
    expect_argv(W("sh", "-c", "echo ${HOME} $0 ${x:-{y}}"), IDENTITY, P("p"),
                A("sh", "-c", "echo ${HOME} $0 ${x:-{y}}", "p"));
    expect_argv(W("sh", "-c", "echo ${HOME}-{}"), IDENTITY, P("p"),
                A("sh", "-c", "echo ${HOME}-p"));
    expect_argv(W("echo", "{{}}", "{a}"), JSON, P("{\"a\":1}"),
                A("echo", "{}", "1"));
}

static void placeholders_flag(void **state)
{
    struct argv_template *t = argv_template_new(2, W("a", "{x}"));

    assert_non_null(t);
    assert_true(argv_template_has_placeholders(t));
    argv_template_free(t);
    t = argv_template_new(2, W("a", "{ x }"));
    assert_non_null(t);
    assert_false(argv_template_has_placeholders(t));
    argv_template_free(t);
    assert_null(argv_template_new(0, W("a")));
    argv_template_free(NULL);
}

static void quote(void **state)
{
    char *s = argv_quote(
        W("echo", "plain", "two words", "it's", "", "a$b", "x=1,y=/p:q"));

    assert_non_null(s);
    assert_string_equal(
        s, "echo plain 'two words' 'it'\\''s' '' 'a$b' x=1,y=/p:q");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_identity), cmocka_unit_test(append_json),
        cmocka_unit_test(whole_param),     cmocka_unit_test(fields),
        cmocka_unit_test(missing_field),   cmocka_unit_test(not_an_object),
        cmocka_unit_test(bad_json),        cmocka_unit_test(nul_byte),
        cmocka_unit_test(literal_braces),  cmocka_unit_test(placeholders_flag),
        cmocka_unit_test(escapes),         cmocka_unit_test(quote),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
