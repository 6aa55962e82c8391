/* SPDX-License-Identifier: MIT */
/* plugins/adapters/sha1.c: the digests of FIPS 180-4's examples and of RFC
 * 3174's tests, base64 on RFC 4648's, the WebSocket handshake of RFC 6455
 * section 1.3, then both against OpenSSL's on every length around the
 * block boundaries (OpenSSL is only in this test, never in the adapter). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "sha1.h"

/* The digest of @len bytes at @data, in hex. */
static void hex_digest(const void *data, size_t len, char out[41])
{
    unsigned char md[SHA1_LEN];

    sha1_digest(data, len, md);
    for (int i = 0; i < SHA1_LEN; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

static void check_digest(const char *msg, const char *want)
{
    char got[41];

    hex_digest(msg, strlen(msg), got);
    assert_string_equal(got, want);
}

static void fips_examples(void **state)
{
    /* FIPS 180-4's one-block and two-block examples (from the NIST
     * examples document), the empty message, and the 896-bit message. */
    check_digest("abc", "a9993e364706816aba3e25717850c26c9cd0d89d");
    check_digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                 "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    check_digest("", "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check_digest("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                 "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                 "a49b2446a02c645bf419f995b67091253a04a259");
}

static void rfc3174_tests(void **state)
{
    size_t big = 1000000;
    char *a = malloc(big), *r = malloc(640 + 1), got[41];

    assert_non_null(a);
    assert_non_null(r);
    /* TEST3: a million 'a'. */
    memset(a, 'a', big);
    hex_digest(a, big, got);
    assert_string_equal(got, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    /* TEST4: "01234567" eight times, ten times over. */
    for (int i = 0; i < 80; i++) {
        memcpy(r + 8 * i, "01234567", 8);
    }
    hex_digest(r, 640, got);
    assert_string_equal(got, "dea356a2cddd90c7a7ecedc5ebb563934f460452");
    free(a);
    free(r);
}

static void check_base64(const char *in, const char *want)
{
    char out[SHA1_BASE64_SIZE(16)];

    assert_int_equal(sha1_base64(in, strlen(in), out), strlen(want));
    assert_string_equal(out, want);
}

static void rfc4648_base64(void **state)
{
    check_base64("", "");
    check_base64("f", "Zg==");
    check_base64("fo", "Zm8=");
    check_base64("foo", "Zm9v");
    check_base64("foob", "Zm9vYg==");
    check_base64("fooba", "Zm9vYmE=");
    check_base64("foobar", "Zm9vYmFy");
    /* The last two digits: '+' and '/'. */
    check_base64("\xfb\xff", "+/8=");
}

static void rfc6455_handshake(void **state)
{
    /* Section 1.3: the key, the GUID, and the server's proof. */
    static const char in[] = "dGhlIHNhbXBsZSBub25jZQ=="
                             "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char md[SHA1_LEN];
    char accept[SHA1_BASE64_SIZE(SHA1_LEN)];

    sha1_digest(in, strlen(in), md);
    assert_int_equal(sha1_base64(md, sizeof(md), accept), 28);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void same_as_openssl(void **state)
{
    unsigned char data[300], md[SHA1_LEN], ref[EVP_MAX_MD_SIZE];
    char out[SHA1_BASE64_SIZE(sizeof(data))];
    char ref64[SHA1_BASE64_SIZE(sizeof(data))];
    uint32_t x = 2463534242u;

    for (size_t i = 0; i < sizeof(data); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data[i] = (unsigned char)x;
    }
    /* Every tail length, and the padding in one block or two. */
    for (size_t len = 0; len <= sizeof(data); len++) {
        unsigned int n = 0;

        sha1_digest(data, len, md);
        assert_true(EVP_Digest(data, len, ref, &n, EVP_sha1(), NULL));
        assert_int_equal(n, SHA1_LEN);
        assert_memory_equal(md, ref, SHA1_LEN);
        assert_int_equal(
            sha1_base64(data, len, out),
            EVP_EncodeBlock((unsigned char *)ref64, data, (int)len));
        assert_string_equal(out, ref64);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fips_examples),   cmocka_unit_test(rfc3174_tests),
        cmocka_unit_test(rfc4648_base64),  cmocka_unit_test(rfc6455_handshake),
        cmocka_unit_test(same_as_openssl),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
