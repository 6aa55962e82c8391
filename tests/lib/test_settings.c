/* SPDX-License-Identifier: MIT */
/* Precedence: flag > environment > .env > default, and the option parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "options.h"
#include "settings.h"

static char envfile[64];

static int write_envfile(void **state)
{
    FILE *f;
    int fd;

    strcpy(envfile, "/tmp/test_settings.XXXXXX");
    fd = mkstemp(envfile);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("T_ALL=dotenv\nT_ENV_DOTENV=dotenv\nT_DOTENV=dotenv\n", f);
    fclose(f);
    return 0;
}

static int remove_envfile(void **state)
{
    unlink(envfile);
    return 0;
}

static void precedence(void **state)
{
    struct settings *s = settings_new();

    assert_non_null(s);
    setenv("T_ALL", "env", 1);
    setenv("T_ENV_DOTENV", "env", 1);
    unsetenv("T_DOTENV");
    unsetenv("T_NONE");
    assert_int_equal(settings_load_dotenv(s, envfile), 0);
    assert_int_equal(settings_set_flag(s, "T_ALL", "flag"), 0);

    assert_string_equal(settings_get(s, "T_ALL"), "flag");
    assert_string_equal(settings_source(s, "T_ALL"), "flag");
    assert_string_equal(settings_get(s, "T_ENV_DOTENV"), "env");
    assert_string_equal(settings_source(s, "T_ENV_DOTENV"), "environment");
    assert_string_equal(settings_get(s, "T_DOTENV"), "dotenv");
    assert_string_equal(settings_source(s, "T_DOTENV"), ".env");
    assert_null(settings_get(s, "T_NONE"));
    assert_int_equal(settings_load_dotenv(s, "/nonexistent/.env"),
                     -2 /* -ENOENT */);
    settings_free(s);
}

struct conf {
    char *name;
    long long count;
    int flag;
    double wait;
    size_t bytes;
    int mode;
    char **list;
};

static const struct minion_option opts[] = {
    {"T_NAME", MINION_OPT_STRING, "dflt", offsetof(struct conf, name), 0,
     "a name"},
    {"T_COUNT", MINION_OPT_INT, "3", offsetof(struct conf, count), 0, "n"},
    {"T_FLAG", MINION_OPT_BOOL, "off", offsetof(struct conf, flag), 0, "b"},
    {"T_WAIT", MINION_OPT_DURATION, "30s", offsetof(struct conf, wait), 0, "w"},
    {"T_BYTES", MINION_OPT_SIZE, "64k", offsetof(struct conf, bytes), 0, "z"},
    {"T_MODE", MINION_OPT_ENUM, "json", offsetof(struct conf, mode), 0, "e",
     "identity|json"},
    {"T_LIST", MINION_OPT_LIST, "a, b,,c", offsetof(struct conf, list), 0, "l"},
    {NULL}};

static void defaults_and_overrides(void **state)
{
    struct settings *s = settings_new();
    struct conf c;

    for (const struct minion_option *o = opts; o->name; o++) {
        unsetenv(o->name);
    }
    memset(&c, 0, sizeof(c));
    assert_int_equal(options_fill(opts, &c, s), 0);
    assert_string_equal(c.name, "dflt");
    assert_int_equal(c.count, 3);
    assert_int_equal(c.flag, 0);
    assert_true(c.wait > 29.99 && c.wait < 30.01);
    assert_int_equal(c.bytes, 65536);
    assert_int_equal(c.mode, 1);
    assert_string_equal(c.list[0], "a");
    assert_string_equal(c.list[1], "b");
    assert_string_equal(c.list[2], "c");
    assert_null(c.list[3]);
    options_free(opts, &c);

    setenv("T_WAIT", "250ms", 1);
    settings_set_flag(s, "T_FLAG", "yes");
    settings_set_flag(s, "T_BYTES", "1M");
    memset(&c, 0, sizeof(c));
    assert_int_equal(options_fill(opts, &c, s), 0);
    assert_int_equal(c.flag, 1);
    assert_true(c.wait > 0.249 && c.wait < 0.251);
    assert_int_equal(c.bytes, 1048576);
    options_free(opts, &c);
    unsetenv("T_WAIT");
    settings_free(s);
}

static void bad_values_name_the_setting(void **state)
{
    struct settings *s = settings_new();
    struct conf c;
    const char *bad[][2] = {{"T_COUNT", "12x"}, {"T_FLAG", "maybe"},
                            {"T_WAIT", "soon"}, {"T_BYTES", "-1"},
                            {"T_MODE", "yaml"}, {"T_COUNT", ""}};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        settings_set_flag(s, bad[i][0], bad[i][1]);
        memset(&c, 0, sizeof(c));
        assert_int_equal(options_fill(opts, &c, s), -22 /* -EINVAL */);
        assert_non_null(strstr(settings_error(s), bad[i][0]));
        assert_non_null(strstr(settings_error(s), "flag"));
        options_free(opts, &c);
        settings_free(s);
        s = settings_new();
    }
    settings_free(s);
}

static void unit_parsers(void **state)
{
    double d;
    size_t z;
    long long n;

    assert_int_equal(options_parse_duration("5m", &d), 0);
    assert_true(d == 300);
    assert_int_equal(options_parse_duration("1.5", &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(options_parse_duration("2h", &d), 0);
    assert_true(d == 7200);
    assert_int_equal(options_parse_size("2G", &z), 0);
    assert_int_equal(z, 2147483648UL);
    assert_int_equal(options_parse_int("-7", &n), 0);
    assert_int_equal(n, -7);
    assert_int_equal(options_parse_int("99999999999999999999", &n), -22);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(precedence, write_envfile,
                                        remove_envfile),
        cmocka_unit_test(defaults_and_overrides),
        cmocka_unit_test(bad_values_name_the_setting),
        cmocka_unit_test(unit_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
