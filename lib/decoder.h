/* SPDX-License-Identifier: MIT */
/* MINION_DECODER: what a param must look like before a callback sees it. */
#ifndef LIB_DECODER_H
#define LIB_DECODER_H

#include <stddef.h>

/* Check @len bytes of @param, which must be followed by a NUL byte (tasks
 * keep one), against @decoder (enum minion_decoder). Returns 0, or -EINVAL
 * with one line in @err ("param is not valid JSON (at byte 3)"). */
int decoder_check(int decoder, const char *param, size_t len, char *err,
                  size_t errlen);

#endif
