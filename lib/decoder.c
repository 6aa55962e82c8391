/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <minionize/plugin.h>

#include "decoder.h"

/* How deep arrays and objects nest in @param, strings skipped: cJSON says
 * only "failed" when a valid document nests too deep. */
static int nesting_depth(const char *param, size_t len)
{
    int depth = 0, deepest = 0, in_string = 0;

    for (size_t i = 0; i < len; i++) {
        char c = param[i];

        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = 0;
            }
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest) {
                deepest = depth;
            }
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return deepest;
}

static int check_json(const char *param, size_t len, char *err, size_t errlen)
{
    const char *nul = memchr(param, '\0', len);
    const char *end = NULL;
    cJSON *value;

    if (nul) {
        snprintf(err, errlen, "param is not valid JSON: NUL byte at byte %zu",
                 (size_t)(nul - param) + 1);
        return -EINVAL;
    }
    /* The length includes the NUL after the param, so that cJSON's
     * "nothing but blanks after the value" check applies. */
    value = cJSON_ParseWithLengthOpts(param, len + 1, &end, 1);
    if (value) {
        cJSON_Delete(value);
        return 0;
    }
    if (nesting_depth(param, len) > CJSON_NESTING_LIMIT) {
        snprintf(err, errlen,
                 "param is JSON nested deeper than %d levels, more than the "
                 "decoder takes",
                 CJSON_NESTING_LIMIT);
    } else if (end && end >= param && end <= param + len) {
        snprintf(err, errlen, "param is not valid JSON (at byte %zu)",
                 (size_t)(end - param) + 1);
    } else {
        snprintf(err, errlen, "param is not valid JSON");
    }
    return -EINVAL;
}

int decoder_check(int decoder, const char *param, size_t len, char *err,
                  size_t errlen)
{
    if (decoder == MINION_DECODER_JSON) {
        return check_json(param, len, err, errlen);
    }
    return 0;
}
