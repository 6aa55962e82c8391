/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <minionize/plugin.h>

#include "decoder.h"

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
    if (end && end >= param && end <= param + len) {
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
