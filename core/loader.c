/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errbuf.h"
#include "loader.h"

/* The first released sizes as literal numbers, where pointers are 8
 * bytes: if one of these fails, a released field has moved. */
#if defined(__LP64__)
_Static_assert(PLUGIN_SIZE_2_0 == 112, "struct minion_plugin moved");
_Static_assert(OPTION_SIZE_2_0 == 56, "struct minion_option moved");
_Static_assert(ENGINE_OPS_MIN == 24, "struct minion_engine_ops moved");
_Static_assert(CALLBACK_OPS_MIN == 24, "struct minion_callback_ops moved");
_Static_assert(REPORTER_OPS_MIN == 16, "struct minion_reporter_ops moved");
_Static_assert(PARAM_SIZE_2_0 == 48, "struct minion_param moved");
_Static_assert(REPORT_SIZE_2_0 == 128, "struct minion_report moved");
#endif

const char *loader_kind_name(enum minion_kind kind)
{
    switch (kind) {
    case MINION_KIND_ENGINE: return "engine";
    case MINION_KIND_CALLBACK: return "callback";
    case MINION_KIND_REPORTER: return "reporter";
    }
    return "plugin";
}

/* True when this process's binary lives in the tree it was built in. */
static int running_uninstalled(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    size_t blen = strlen(MINION_BUILD_DIR);

    if (n <= 0) {
        return 0;
    }
    exe[n] = '\0';
    return strncmp(exe, MINION_BUILD_DIR, blen) == 0 && exe[blen] == '/';
}

char *loader_search_path(const char *user_path)
{
    const char *build = running_uninstalled() ? MINION_BUILD_PLUGIN_PATH : "";
    size_t len = (user_path ? strlen(user_path) : 0) +
                 strlen(MINION_PKGLIBDIR) + strlen(build) + 3;
    char *path = malloc(len);

    if (!path) {
        return NULL;
    }
    snprintf(path, len, "%s%s%s%s%s", user_path ? user_path : "",
             user_path && *user_path ? ":" : "", MINION_PKGLIBDIR,
             *build ? ":" : "", build);
    return path;
}

/* "dir/redis.so" -> "redis" in @name. */
static void name_of(const char *path, char *name, size_t cap)
{
    const char *base = strrchr(path, '/');
    size_t n;

    base = base ? base + 1 : path;
    n = strcspn(base, ".");
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(name, base, n);
    name[n] = '\0';
}

/* Say why the last call on @lp failed. Returns @rc. */
static int fail(struct loaded_plugin *lp, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct loaded_plugin *lp, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    errbuf_vset(lp->error, sizeof(lp->error), rc, fmt, ap);
    va_end(ap);
    return rc;
}

static int check(struct loaded_plugin *lp, const struct minion_plugin *p,
                 const char *name, enum minion_kind kind)
{
    const char *kn = loader_kind_name(kind);

    if (p->abi != MINION_ABI_MAJOR) {
        return fail(lp, -EINVAL, "%s %s: built for ABI %u, core is %d", kn,
                    name, p->abi, MINION_ABI_MAJOR);
    }
    if (p->abi_minor > MINION_ABI_MINOR) {
        return fail(lp, -EINVAL, "%s %s: needs core ABI %u.%u, this is %d.%d",
                    kn, name, p->abi, p->abi_minor, MINION_ABI_MAJOR,
                    MINION_ABI_MINOR);
    }
    if (p->size < PLUGIN_SIZE_2_0) {
        return fail(lp, -EINVAL,
                    "%s %s: descriptor is %u bytes, smaller than ABI %d's %zu",
                    kn, name, p->size, MINION_ABI_MAJOR, PLUGIN_SIZE_2_0);
    }
    if (p->options && p->option_size < OPTION_SIZE_2_0) {
        return fail(lp, -EINVAL,
                    "%s %s: option rows are %u bytes, smaller "
                    "than ABI %d's %zu",
                    kn, name, p->option_size, MINION_ABI_MAJOR,
                    OPTION_SIZE_2_0);
    }
    if (p->kind != kind) {
        return fail(lp, -EINVAL, "%s is a %s plugin, not a %s", name,
                    loader_kind_name(p->kind), kn);
    }
    if (!p->name || strcmp(p->name, name) != 0) {
        return fail(lp, -EINVAL, "%s %s: descriptor names itself '%s'", kn,
                    name, p->name ? p->name : "(null)");
    }
    return 0;
}

/* Copy an op table into the core's layout: what lies past the size the
 * plugin recorded stays zero (absent). Returns the recorded size, or 0 for
 * no table. */
static size_t copy_table(void *out, size_t out_size, const void *table)
{
    size_t recorded;

    memset(out, 0, out_size);
    if (!table) {
        return 0;
    }
    recorded = *(const unsigned *)table;
    memcpy(out, table, recorded < out_size ? recorded : out_size);
    return recorded;
}

/* The option rows in the core's layout, read with the plugin's stride.
 * Returns: new array ending with a NULL name; NULL on ENOMEM. */
static struct minion_option *copy_options(const struct minion_plugin *p)
{
    const char *row = (const char *)p->options;
    size_t n = 0, stride = p->option_size;
    size_t take = stride < sizeof(struct minion_option)
                      ? stride
                      : sizeof(struct minion_option);
    struct minion_option *out;

    while (row && ((const struct minion_option *)(row + n * stride))->name) {
        n++;
    }
    out = calloc(n + 1, sizeof(*out));
    for (size_t i = 0; out && i < n; i++) {
        memcpy(&out[i], row + i * stride, take);
    }
    return out;
}

int loader_adopt(struct loaded_plugin *lp, const struct minion_plugin *p,
                 enum minion_kind kind)
{
    const char *kn = loader_kind_name(kind);
    size_t got = 0, need = 0;
    int ok = 0;

    lp->plugin = p;
    switch (kind) {
    case MINION_KIND_ENGINE:
        got = copy_table(&lp->engine, sizeof(lp->engine), p->engine);
        need = ENGINE_OPS_MIN;
        ok = lp->engine.request && lp->engine.finish;
        break;
    case MINION_KIND_CALLBACK:
        got = copy_table(&lp->callback, sizeof(lp->callback), p->callback);
        need = CALLBACK_OPS_MIN;
        ok = lp->callback.process != NULL;
        break;
    case MINION_KIND_REPORTER:
        got = copy_table(&lp->reporter, sizeof(lp->reporter), p->reporter);
        need = REPORTER_OPS_MIN;
        ok = lp->reporter.on_report != NULL;
        break;
    }
    if (got < need || !ok) {
        return fail(lp, -EINVAL, "%s %s: %s", kn, p->name ? p->name : "?",
                    got == 0     ? "no hook table"
                    : got < need ? "hook table smaller than its required hooks"
                    : kind == MINION_KIND_ENGINE   ? "no request or finish hook"
                    : kind == MINION_KIND_CALLBACK ? "no process hook"
                                                   : "no on_report hook");
    }
    if (p->options && !(lp->options = copy_options(p))) {
        return fail(lp, -ENOMEM, "out of memory");
    }
    return 0;
}

static int open_file(struct loaded_plugin *out, const char *path,
                     enum minion_kind kind)
{
    char name[128], symbol[160];
    const struct minion_plugin *p;
    void *dl;

    int rc;

    name_of(path, name, sizeof(name));
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        rc = fail(out, -ENOEXEC, "cannot load %s plugin %s: %s",
                  loader_kind_name(kind), path, dlerror());
        dlerror(); /* glibc frees the text it kept once asked again */
        return rc;
    }
    snprintf(symbol, sizeof(symbol), "minion_plugin_%s", name);
    p = dlsym(dl, symbol);
    if (!p) {
        dlclose(dl);
        return fail(out, -ENOEXEC, "%s is not a minionize plugin: no symbol %s",
                    path, symbol);
    }
    rc = check(out, p, name, kind);
    if (rc == 0) {
        rc = loader_adopt(out, p, kind);
    }
    if (rc < 0) {
        free(out->options);
        out->options = NULL;
        out->plugin = NULL;
        dlclose(dl);
        return rc;
    }
    out->dl = dl;
    out->path = strdup(path);
    if (!out->path) {
        loader_close(out);
        return fail(out, -ENOMEM, "out of memory");
    }
    return 0;
}

int loader_open(struct loaded_plugin *out, const char *spec,
                enum minion_kind kind, const char *search_path)
{
    char file[PATH_MAX];
    const char *p;

    memset(out, 0, sizeof(*out));
    if (strchr(spec, '/')) {
        if (access(spec, R_OK) < 0) {
            return fail(out, -errno, "cannot read %s plugin %s: %s",
                        loader_kind_name(kind), spec, strerror(errno));
        }
        return open_file(out, spec, kind);
    }
    for (p = search_path; p && *p;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        if (n > 0 && n < sizeof(file) - strlen(spec) - 5) {
            snprintf(file, sizeof(file), "%.*s/%s.so", (int)n, p, spec);
            if (access(file, F_OK) == 0) {
                return open_file(out, file, kind);
            }
        }
        p = colon ? colon + 1 : NULL;
    }
    char *known = loader_list(kind, search_path);
    fail(out, -ENOENT, "unknown %s '%s' (available: %s)",
         loader_kind_name(kind), spec, known && *known ? known : "none found");
    free(known);
    return -ENOENT;
}

void loader_close(struct loaded_plugin *lp)
{
    if (!lp) {
        return;
    }
    /* Leave the object mapped under the sanitizers so leak reports can
     * still name its functions. */
#ifndef __SANITIZE_ADDRESS__
    if (lp->dl) {
        dlclose(lp->dl);
    }
#endif
    free(lp->path);
    free(lp->options);
    memset(lp, 0, sizeof(*lp));
}

static int list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n) {
        if ((p == list || (p - list >= 2 && p[-2] == ',')) &&
            (p[n] == ',' || p[n] == '\0')) {
            return 1;
        }
    }
    return 0;
}

char *loader_list(enum minion_kind kind, const char *search_path)
{
    char *list = calloc(1, 1);
    size_t len = 0;

    for (const char *p = search_path; list && p && *p;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        char dir[PATH_MAX];
        DIR *d;

        snprintf(dir, sizeof(dir), "%.*s", (int)n, p);
        p = colon ? colon + 1 : NULL;
        d = opendir(dir);
        if (!d) {
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t el = strlen(e->d_name);
            char file[PATH_MAX + 256], name[128];
            struct loaded_plugin lp = {0};

            if (el < 4 || strcmp(e->d_name + el - 3, ".so") != 0) {
                continue;
            }
            name_of(e->d_name, name, sizeof(name));
            if (list_has(list, name)) {
                continue;
            }
            snprintf(file, sizeof(file), "%s/%s", dir, e->d_name);
            if (open_file(&lp, file, kind) < 0) {
                continue;
            }
            loader_close(&lp);
            char *grown = realloc(list, len + strlen(name) + 3);
            if (!grown) {
                break;
            }
            list = grown;
            len += (size_t)sprintf(list + len, "%s%s", len ? ", " : "", name);
        }
        closedir(d);
    }
    return list;
}
