/* SPDX-License-Identifier: MIT */
/* Finding and loading adapters/tls.so (tls.h): in an "adapters" folder
 * next to the object this code is linked into, as dladdr() names it
 * (pulsar.so in pkglibdir, or wherever MINION_PLUGIN_PATH found it), so
 * that a DESTDIR or relocated install finds its own module; failing that,
 * for an object of the build tree (engines/.libs/pulsar.so, a test
 * program), the build tree's.
 * Loaded once and never unloaded: its bufferevents use its code until
 * they are freed, and OpenSSL cleans up at exit. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errbuf.h"
#include "tls.h"

#define MODULE_DIR "adapters"
#define MODULE_FILE "tls.so"
/* Where the build tree keeps it (libtool's objdir ends in a slash). */
#define BUILD_MODULE "/plugins/adapters/" LT_OBJDIR MODULE_FILE

static const struct tls_module *loaded;

/* glibc keeps the text of dlerror() until it is asked again: ask, so that
 * nothing stays allocated once the caller has its copy. */
static void forget_dlerror(void)
{
    if (dlerror()) {
        dlerror();
    }
}

/* The real path of the file this code was loaded from: a shared object,
 * or the program itself (a test). Returns 0, or -1. */
static int own_file(char *path)
{
    struct link_map *map = NULL;
    Dl_info info;

    if (dladdr1((void *)tls_module, &info, (void **)&map, RTLD_DL_LINKMAP) &&
        map && map->l_name && map->l_name[0] && info.dli_fname) {
        return realpath(info.dli_fname, path) ? 0 : -1;
    }
    /* The program's own map has no name. */
    return realpath("/proc/self/exe", path) ? 0 : -1;
}

/* Is @path inside the tree this was built in? */
static int in_build_tree(const char *path)
{
    char build[PATH_MAX];
    size_t n;

    if (!realpath(MINION_BUILD_DIR, build)) {
        return 0;
    }
    n = strlen(build);
    return strncmp(path, build, n) == 0 && path[n] == '/';
}

const struct tls_module *tls_module(char *err, size_t errlen)
{
    char self[PATH_MAX], file[PATH_MAX + sizeof(MODULE_DIR MODULE_FILE) + 2];
    const struct tls_module *m;
    const char *name;
    void *dl;

    if (loaded) {
        return loaded;
    }
    if (own_file(self) < 0) {
        errbuf_set(err, errlen, -ENOENT,
                   "TLS support (" MODULE_DIR "/" MODULE_FILE
                   "): cannot tell where this program's files are: %s",
                   strerror(errno));
        return NULL;
    }
    name = strrchr(self, '/') + 1;
    snprintf(file, sizeof(file), "%.*s/" MODULE_DIR "/" MODULE_FILE,
             (int)(name - 1 - self), self);
    if (access(file, F_OK) < 0 && in_build_tree(self)) {
        /* libtool keeps each module in a folder of its own. */
        snprintf(file, sizeof(file), "%s", MINION_BUILD_DIR BUILD_MODULE);
    }
    dl = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        errbuf_set(err, errlen, -ENOENT,
                   "TLS support (" MODULE_DIR "/" MODULE_FILE
                   ") not found next to %s: %s",
                   name, dlerror());
        forget_dlerror();
        return NULL;
    }
    m = dlsym(dl, TLS_MODULE_SYMBOL);
    if (!m || m->version != TLS_MODULE_VERSION || !m->client || !m->failure) {
        errbuf_set(err, errlen, -ENOEXEC,
                   "TLS support: %s is not the module %s was built with "
                   "(%s)",
                   file, name, m ? "another version" : "no " TLS_MODULE_SYMBOL);
        forget_dlerror();
        dlclose(dl);
        return NULL;
    }
    loaded = m;
    return m;
}
