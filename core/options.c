/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "settings.h"
#include "options.h"

int options_parse_int(const char *text, long long *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE) {
        return -EINVAL;
    }
    *out = v;
    return 0;
}

int options_parse_bool(const char *text, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on", NULL};
    static const char *const no[] = {"0", "false", "no", "off", "", NULL};

    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
    }
    for (int i = 0; no[i]; i++) {
        if (strcasecmp(text, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -EINVAL;
}

/* A number followed by an optional unit; the unit's factor from @units. */
struct unit {
    const char *name;
    double factor;
};

static int parse_with_unit(const char *text, const struct unit *units,
                           double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (end == text || errno == ERANGE || !isfinite(v) || v < 0) {
        return -EINVAL;
    }
    if (*end == '\0') {
        *out = v * units[0].factor;
        return 0;
    }
    for (int i = 0; units[i].name; i++) {
        if (strcasecmp(end, units[i].name) == 0) {
            *out = v * units[i].factor;
            return 0;
        }
    }
    return -EINVAL;
}

int options_parse_duration(const char *text, double *out)
{
    /* The first row is the unit of a bare number: seconds. */
    static const struct unit units[] = {
        {"s", 1},    {"ms", 0.001}, {"us", 1e-6}, {"m", 60},
        {"min", 60}, {"h", 3600},   {"d", 86400}, {NULL, 0}};
    return parse_with_unit(text, units, out);
}

int options_parse_size(const char *text, size_t *out)
{
    static const struct unit units[] = {{"b", 1},
                                        {"k", 1024.0},
                                        {"kb", 1024.0},
                                        {"kib", 1024.0},
                                        {"m", 1048576.0},
                                        {"mb", 1048576.0},
                                        {"mib", 1048576.0},
                                        {"g", 1073741824.0},
                                        {"gb", 1073741824.0},
                                        {"gib", 1073741824.0},
                                        {NULL, 0}};
    double v;

    if (parse_with_unit(text, units, &v) < 0 || v > 1e18) {
        return -EINVAL;
    }
    *out = (size_t)v;
    return 0;
}

static int parse_enum(const char *choices, const char *text, int *out)
{
    size_t len = strlen(text);
    int index = 0;

    for (const char *p = choices; p && *p; index++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && strncmp(p, text, n) == 0) {
            *out = index;
            return 0;
        }
        p = bar ? bar + 1 : NULL;
    }
    return -EINVAL;
}

static void free_list(char **list)
{
    if (!list) {
        return;
    }
    for (char **p = list; *p; p++) {
        free(*p);
    }
    free(list);
}

/* "a, b,c" -> {"a","b","c",NULL}; empty items dropped. */
static char **parse_list(const char *text)
{
    size_t n = 1;
    char **list;
    size_t i = 0;

    for (const char *p = text; *p; p++) {
        n += *p == ',';
    }
    list = calloc(n + 1, sizeof(*list));
    if (!list) {
        return NULL;
    }
    for (const char *p = text; *p;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        const char *e = end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }
        if (e > p) {
            list[i] = strndup(p, (size_t)(e - p));
            if (!list[i]) {
                free_list(list);
                return NULL;
            }
            i++;
        }
        p = comma ? comma + 1 : end;
    }
    return list;
}

int options_set(const struct minion_option *opt, void *conf, const char *text,
                char *err, size_t errlen)
{
    char *field = (char *)conf + opt->offset;
    long long i;
    double d;
    size_t z;
    int b;

    switch (opt->type) {
    case MINION_OPT_STRING: {
        char *s = strdup(text);
        if (!s) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        free(*(char **)field);
        *(char **)field = s;
        return 0;
    }
    case MINION_OPT_INT:
        if (options_parse_int(text, &i) < 0) {
            snprintf(err, errlen, "not a whole number: '%s'", text);
            return -EINVAL;
        }
        *(long long *)field = i;
        return 0;
    case MINION_OPT_BOOL:
        if (options_parse_bool(text, &b) < 0) {
            snprintf(err, errlen, "not a boolean (1/0, true/false): '%s'",
                     text);
            return -EINVAL;
        }
        *(int *)field = b;
        return 0;
    case MINION_OPT_DURATION:
        if (options_parse_duration(text, &d) < 0) {
            snprintf(err, errlen,
                     "not a duration (seconds, or 250ms, 30s, 5m, 1h): '%s'",
                     text);
            return -EINVAL;
        }
        *(double *)field = d;
        return 0;
    case MINION_OPT_SIZE:
        if (options_parse_size(text, &z) < 0) {
            snprintf(err, errlen, "not a size (bytes, or 64k, 1M): '%s'", text);
            return -EINVAL;
        }
        *(size_t *)field = z;
        return 0;
    case MINION_OPT_ENUM:
        if (parse_enum(opt->choices, text, &b) < 0) {
            snprintf(err, errlen, "'%s' is not one of %s", text,
                     opt->choices ? opt->choices : "(no choices)");
            return -EINVAL;
        }
        *(int *)field = b;
        return 0;
    case MINION_OPT_LIST: {
        char **list = parse_list(text);
        if (!list) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        free_list(*(char ***)field);
        *(char ***)field = list;
        return 0;
    }
    }
    snprintf(err, errlen, "unknown option type %d", (int)opt->type);
    return -EINVAL;
}

int options_fill(const struct minion_option *opts, void *conf,
                 struct settings *cfg)
{
    char why[256];

    for (const struct minion_option *o = opts; o && o->name; o++) {
        const char *text = settings_get(cfg, o->name);
        const char *from = text ? settings_source(cfg, o->name) : "default";

        if (!text) {
            text = o->def;
        }
        if (!text) {
            if (o->flags & MINION_OPT_REQUIRED) {
                settings_set_error(cfg, "%s is required", o->name);
                return -EINVAL;
            }
            continue;
        }
        if (options_set(o, conf, text, why, sizeof(why)) < 0) {
            settings_set_error(cfg, "%s (from %s): %s", o->name, from, why);
            return -EINVAL;
        }
        if ((o->flags & MINION_OPT_REQUIRED) && o->type == MINION_OPT_STRING &&
            text[0] == '\0') {
            settings_set_error(cfg, "%s is required", o->name);
            return -EINVAL;
        }
    }
    return 0;
}

void options_free(const struct minion_option *opts, void *conf)
{
    if (!conf) {
        return;
    }
    for (const struct minion_option *o = opts; o && o->name; o++) {
        char *field = (char *)conf + o->offset;
        if (o->type == MINION_OPT_STRING) {
            free(*(char **)field);
            *(char **)field = NULL;
        } else if (o->type == MINION_OPT_LIST) {
            free_list(*(char ***)field);
            *(char ***)field = NULL;
        }
    }
}

static const char *type_name(const struct minion_option *o)
{
    static const char *const names[] = {
        "string", "integer", "boolean", "duration", "size", "one of", "list"};
    if (o->type == MINION_OPT_ENUM && o->choices) {
        return o->choices;
    }
    return (unsigned)o->type < 7 ? names[o->type] : "?";
}

void options_print(FILE *out, const struct minion_option *opts, int markdown)
{
    if (markdown) {
        fprintf(out, "| setting | type | default | meaning |\n"
                     "| --- | --- | --- | --- |\n");
    }
    for (const struct minion_option *o = opts; o && o->name; o++) {
        /* Only a SECRET option's value is secret, never its default, and
         * this prints defaults only. */
        const char *def = o->def ? o->def : "";
        if (o->flags & MINION_OPT_REQUIRED) {
            def = "(required)";
        }
        if (markdown) {
            fprintf(out, "| `%s` | %s | %s%s%s | %s |\n", o->name, type_name(o),
                    def[0] ? "`" : "", def[0] ? def : "none", def[0] ? "`" : "",
                    o->help ? o->help : "");
        } else {
            fprintf(out, "  %-24s %s (default: %s)\n      %s\n", o->name,
                    type_name(o), def[0] ? def : "none",
                    o->help ? o->help : "");
        }
    }
}
