/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "frames.h"

void frames_init(struct frames *f)
{
    memset(f, 0, sizeof(*f));
}

int frames_feed(struct frames *f, const char *buf, size_t len, frames_fn *fn,
                void *arg)
{
    while (len > 0) {
        if (f->left == 0) {
            size_t take = sizeof(f->header) - f->have;

            if (take > len) {
                take = len;
            }
            memcpy(f->header + f->have, buf, take);
            f->have += take;
            buf += take;
            len -= take;
            if (f->have < sizeof(f->header)) {
                return 0;
            }
            f->have = 0;
            if (f->header[0] > FRAMES_SYSTEM || f->header[1] || f->header[2] ||
                f->header[3]) {
                return -EPROTO;
            }
            f->stream = (enum frames_stream)f->header[0];
            f->left = (uint32_t)f->header[4] << 24 |
                      (uint32_t)f->header[5] << 16 |
                      (uint32_t)f->header[6] << 8 | (uint32_t)f->header[7];
            continue; /* an empty frame is allowed */
        }
        size_t piece = len < f->left ? len : f->left;
        int rc = fn(f->stream, buf, piece, arg);

        if (rc < 0) {
            return rc;
        }
        f->left -= (uint32_t)piece;
        buf += piece;
        len -= piece;
    }
    return 0;
}

int frames_complete(const struct frames *f)
{
    return f->have == 0 && f->left == 0;
}
