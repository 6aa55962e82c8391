/* SPDX-License-Identifier: MIT */
/*
 * argv.h: turn `PROGRAM ARGS...` plus one param into the argument vector of
 * one run, with no shell. Shared by the `process` and `docker` callbacks;
 * pure logic (cJSON only), no core dependency.
 *
 * Rules (the contract's "process" callback):
 *  - Without placeholders the param is appended: as one argument (identity
 *    decoder), or with the json decoder one argument per element of a JSON
 *    array; a JSON string is one argument without quotes, any other JSON
 *    value one argument as compact JSON.
 *  - `{}` anywhere inside an argument is replaced by the param as text:
 *    its raw bytes (identity) or, under json, a string without quotes and
 *    anything else as compact JSON.
 *  - `{name}`, name matching [A-Za-z_][A-Za-z0-9_.-]*, is replaced by that
 *    field of a JSON object param (strings without quotes, other values as
 *    compact JSON). The param is parsed as JSON for it whatever the decoder.
 *    A name with dots that is not itself a field is a path: `{a.b}` is field
 *    b of object a, `{list.0}` element 0 of array list.
 *  - `{{` and `}}` are one literal brace each (awk '{{print}}' runs awk
 *    '{print}'); `${...}` is shell syntax and kept as it is (sh -c
 *    'echo ${HOME}'); any other brace text is kept as it is
 *    (awk '{ print $1 }').
 *  - PROGRAM itself is never rewritten.
 */
#ifndef MINION_ARGV_H
#define MINION_ARGV_H

#include <stddef.h>

struct argv_template;

/* Parse @argv[0..argc-1] (argv[0] is PROGRAM) once. Borrows: argv (copied).
 * Returns: new template, free with argv_template_free(); NULL when argc < 1
 * or out of memory. */
struct argv_template *argv_template_new(int argc, char *const *argv);
/* Accepts NULL. */
void argv_template_free(struct argv_template *t);
/* 1 when some argument holds `{}` or `{name}`: the param is then placed by
 * them and not appended. */
int argv_template_has_placeholders(const struct argv_template *t);

/*
 * Build the argument vector for one param (@param, @len bytes, not
 * NUL-terminated). @json is 1 for the json decoder, 0 for identity.
 * On success *@out is a NULL-terminated vector (argv[0] is PROGRAM as given)
 * and 0 is returned. Returns: *out, one block freed with free().
 * On failure returns, with one line in @err: -EINVAL when the param cannot
 * make an argument list (a NUL byte, not JSON: retrying cannot help);
 * -ENOENT when a placeholder cannot be filled from this param (a missing
 * field, a param that is no JSON object: the param's fault, or the
 * template's when every param fails so); or -ENOMEM.
 */
int argv_build(const struct argv_template *t, int json, const char *param,
               size_t len, char ***out, char *err, size_t errsz);

/* The vector as one line a POSIX shell would read back into the same words.
 * Returns: new string; caller frees with free(). NULL when out of memory. */
char *argv_quote(char *const *argv);

#endif
