/* SPDX-License-Identifier: MIT */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "settings.h"
#include "stdfds.h"
#include "tools.h"

static const char *program = "minion";

void tools_set_program(const char *name)
{
    program = name;
}

static void vline(const char *tag, const char *fmt, va_list ap,
                  const char *tail)
{
    char msg[1024];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* One fprintf: the line is not split between concurrent writers. */
    fprintf(stderr, "%s: %s%s%s\n", program, tag, msg, tail);
}

void tools_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vline("", fmt, ap, "");
    va_end(ap);
}

void tools_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vline("warning: ", fmt, ap, "");
    va_end(ap);
}

int tools_usage(const char *fmt, ...)
{
    char tail[128];
    va_list ap;

    snprintf(tail, sizeof(tail), " (see %s --help)", program);
    va_start(ap, fmt);
    vline("", fmt, ap, tail);
    va_end(ap);
    return 2;
}

int tools_load_env(struct settings *cfg, const char *env_file)
{
    const char *path = env_file != NULL ? env_file : ".env";
    int rc = settings_load_dotenv(cfg, path);

    if (rc == -ENOENT && env_file == NULL) {
        return 0; /* ./.env is optional */
    }
    if (rc == -ENOENT) {
        tools_error("--env-file %s: no such file", path);
        return 2;
    }
    if (rc < 0) {
        tools_error("%s", settings_error(cfg)[0] != '\0' ? settings_error(cfg)
                                                         : strerror(-rc));
        return 2;
    }
    return 0;
}

const char *tools_get(const struct settings *cfg, const char *key,
                      const char *def)
{
    const char *v = settings_get(cfg, key);

    return v != NULL && *v != '\0' ? v : def;
}

int tools_main(const char *name, int argc, char **argv,
               int (*run)(int argc, char **argv, struct settings *cfg))
{
    struct settings *cfg;
    int rc;

    stdfds_ensure();
    tools_set_program(name);
    cfg = settings_new();
    if (cfg == NULL) {
        tools_error("out of memory");
        return 1;
    }
    rc = run(argc, argv, cfg);
    settings_free(cfg);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        tools_error("writing standard output: %s", strerror(errno));
        return rc != 0 ? rc : 1;
    }
    return rc;
}

int tools_option_error(int c, char **argv)
{
    char why[256];

    return tools_usage("%s", cli_option_error(c, argv, why, sizeof(why)));
}
