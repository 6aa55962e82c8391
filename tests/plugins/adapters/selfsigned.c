/* SPDX-License-Identifier: MIT */
/* selfsigned CERT KEY ALT_NAME: a throwaway self-signed certificate (P-256,
 * valid for a day, CN=localhost, subjectAltName ALT_NAME such as
 * "IP:127.0.0.1") and its key, as PEM files, for the TLS servers of the
 * tests: no openssl command needed. */
#include "config.h"

#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int write_pem(const char *path, X509 *x, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    int ok;

    if (!f) {
        perror(path);
        return -1;
    }
    ok = x ? PEM_write_X509(f, x)
           : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    if (fclose(f) != 0 || !ok) {
        fprintf(stderr, "selfsigned: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    EVP_PKEY *key;
    X509 *x;
    X509_NAME *name;
    X509_EXTENSION *ext;
    int rc = 1;

    if (argc != 4) {
        fprintf(stderr, "usage: selfsigned CERT KEY ALT_NAME\n");
        return 2;
    }
    key = EVP_EC_gen("P-256");
    x = X509_new();
    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, argv[3]);
    if (!key || !x || !ext) {
        fprintf(stderr, "selfsigned: cannot make a key or %s\n", argv[3]);
        goto out;
    }
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
    X509_set_pubkey(x, key);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (X509_add_ext(x, ext, -1) != 1 || X509_sign(x, key, EVP_sha256()) <= 0) {
        fprintf(stderr, "selfsigned: cannot sign\n");
        goto out;
    }
    if (write_pem(argv[1], x, NULL) == 0 &&
        write_pem(argv[2], NULL, key) == 0) {
        rc = 0;
    }
out:
    X509_EXTENSION_free(ext);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}
