/* SPDX-License-Identifier: MIT */
/* The one way to fill a caller's error buffer: leaf code with no context
 * of its own (parsers) writes one line into the (err, errlen) it is given,
 * and returns the error. */
#ifndef LIB_ERRBUF_H
#define LIB_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Write the line into @err (ignored when NULL or @errlen is 0). Returns @rc:
 * `return errbuf_set(err, errlen, -EINVAL, "bad port '%s'", s);`. */
static inline int errbuf_vset(char *err, size_t errlen, int rc, const char *fmt,
                              va_list ap)
{
    if (err && errlen > 0) {
        vsnprintf(err, errlen, fmt, ap);
    }
    return rc;
}

static inline int errbuf_set(char *err, size_t errlen, int rc, const char *fmt,
                             ...) __attribute__((format(printf, 4, 5)));

static inline int errbuf_set(char *err, size_t errlen, int rc, const char *fmt,
                             ...)
{
    va_list ap;

    va_start(ap, fmt);
    errbuf_vset(err, errlen, rc, fmt, ap);
    va_end(ap);
    return rc;
}

#endif
