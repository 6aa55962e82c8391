/* SPDX-License-Identifier: MIT */
/* SHA-1 as FIPS 180-4 section 6.1 describes it: the message padded to
 * whole 512-bit blocks (a 1 bit, zeros, its length in bits as 64 bits big
 * endian), each block expanded to 80 words and mixed into five 32-bit
 * words of state in 80 steps. Then base64 (RFC 4648 section 4). */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "sha1.h"

#define BLOCK 64

static uint32_t rotl(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static uint32_t load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

/* Mix one 64-byte block into @h (FIPS 180-4 6.1.2). */
static void sha1_block(uint32_t h[5], const unsigned char *block)
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

    for (int t = 0; t < 16; t++) {
        w[t] = load_be32(block + 4 * t);
    }
    for (int t = 16; t < 80; t++) {
        w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    }
    for (int t = 0; t < 80; t++) {
        uint32_t f, k, tmp;

        if (t < 20) {
            f = (b & c) ^ (~b & d); /* Ch */
            k = 0x5a827999;
        } else if (t < 40) {
            f = b ^ c ^ d; /* Parity */
            k = 0x6ed9eba1;
        } else if (t < 60) {
            f = (b & c) ^ (b & d) ^ (c & d); /* Maj */
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d; /* Parity */
            k = 0xca62c1d6;
        }
        tmp = rotl(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rotl(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void sha1_digest(const void *data, size_t len, unsigned char md[SHA1_LEN])
{
    uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
                     0xc3d2e1f0};
    const unsigned char *p = data;
    size_t whole = len - len % BLOCK, rest = len % BLOCK;
    /* The tail, padded: one block, or two when the length does not fit. */
    unsigned char tail[2 * BLOCK];
    size_t tail_len = rest < BLOCK - 8 ? BLOCK : 2 * BLOCK;
    uint64_t bits = (uint64_t)len * 8;

    for (size_t i = 0; i < whole; i += BLOCK) {
        sha1_block(h, p + i);
    }
    if (rest > 0) {
        memcpy(tail, p + whole, rest);
    }
    tail[rest] = 0x80;
    memset(tail + rest + 1, 0, tail_len - 8 - rest - 1);
    for (int i = 0; i < 8; i++) {
        tail[tail_len - 1 - i] = (unsigned char)(bits >> (8 * i));
    }
    for (size_t i = 0; i < tail_len; i += BLOCK) {
        sha1_block(h, tail + i);
    }
    for (int i = 0; i < 5; i++) {
        md[4 * i] = (unsigned char)(h[i] >> 24);
        md[4 * i + 1] = (unsigned char)(h[i] >> 16);
        md[4 * i + 2] = (unsigned char)(h[i] >> 8);
        md[4 * i + 3] = (unsigned char)h[i];
    }
}

size_t sha1_base64(const void *in, size_t len, char *out)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = in;
    size_t n = 0;

    /* Each 3 bytes as 4 digits of 6 bits; a short last group is padded. */
    for (size_t i = 0; i < len; i += 3) {
        size_t left = len - i;
        uint32_t v = (uint32_t)p[i] << 16;

        if (left > 1) {
            v |= (uint32_t)p[i + 1] << 8;
        }
        if (left > 2) {
            v |= p[i + 2];
        }
        out[n++] = digits[(v >> 18) & 63];
        out[n++] = digits[(v >> 12) & 63];
        out[n++] = left > 1 ? digits[(v >> 6) & 63] : '=';
        out[n++] = left > 2 ? digits[v & 63] : '=';
    }
    out[n] = '\0';
    return n;
}
