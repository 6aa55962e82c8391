/* SPDX-License-Identifier: MIT */
/*
 * SHA-1 (FIPS 180-4) and base64 (RFC 4648), the two things the WebSocket
 * handshake (RFC 6455 4.1) needs: the key is base64 of 16 random bytes,
 * and the server proves it read it with base64(SHA-1(key + GUID)). Here so
 * that the handshake does not load OpenSSL (megabytes of resident memory)
 * for one digest. Not for anything that needs collision resistance.
 *
 *   unsigned char md[SHA1_LEN];
 *   char b64[SHA1_BASE64_SIZE(SHA1_LEN)];
 *   sha1_digest(data, len, md);
 *   sha1_base64(md, sizeof(md), b64);     "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
 */
#ifndef MINION_SHA1_H
#define MINION_SHA1_H

#include <stddef.h>

#define SHA1_LEN 20
/* The room sha1_base64() needs for @n bytes, its NUL included. */
#define SHA1_BASE64_SIZE(n) (4 * (((n) + 2) / 3) + 1)

/* The SHA-1 digest of @len bytes at @data into @md. */
void sha1_digest(const void *data, size_t len, unsigned char md[SHA1_LEN]);

/* @len bytes at @in in base64, padded with '=', NUL-terminated, into @out
 * of SHA1_BASE64_SIZE(len) bytes. Returns the length written, NUL
 * excluded. */
size_t sha1_base64(const void *in, size_t len, char *out);

#endif
