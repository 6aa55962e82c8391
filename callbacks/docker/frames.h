/* SPDX-License-Identifier: MIT */
/* The Docker Engine API's multiplexed output stream (logs, exec): frames of
 * an 8-byte header (stream, 3 zero bytes, big-endian payload length) and a
 * payload, split anywhere across reads. Pure logic, no I/O. */
#ifndef DOCKER_FRAMES_H
#define DOCKER_FRAMES_H

#include <stddef.h>
#include <stdint.h>

enum frames_stream {
    FRAMES_STDIN = 0, /* written back as output by some daemons */
    FRAMES_STDOUT = 1,
    FRAMES_STDERR = 2,
    FRAMES_SYSTEM = 3, /* the daemon's own error text, in-band */
};

/* Gets each piece of payload as it comes, tagged with its stream (a frame's
 * payload may come in several pieces). Returns 0 to go on, < 0 to stop. */
typedef int frames_fn(enum frames_stream stream, const char *buf, size_t len,
                      void *arg);

struct frames {
    unsigned char header[8];
    size_t have;   /* header bytes read so far */
    uint32_t left; /* payload bytes of the current frame still to come */
    enum frames_stream stream;
};

void frames_init(struct frames *f);

/* Feed @len bytes. Returns 0, the first negative value @fn returned, or
 * -EPROTO when a header is not one (a zero byte is not zero, a stream
 * above 3): the stream is not multiplexed. */
int frames_feed(struct frames *f, const char *buf, size_t len, frames_fn *fn,
                void *arg);

/* 1 when the stream ended between two frames, as it should. */
int frames_complete(const struct frames *f);

#endif
