/* SPDX-License-Identifier: MIT */
#include <config.h>

#include <getopt.h>
#include <stdio.h>

#include "cli.h"

const char *cli_option_error(int c, char **argv, char *buf, size_t len)
{
    char shortopt[3] = {'-', (char)optopt, '\0'};
    /* A long option sets optopt to its value (0, or 256 and up), so only a
     * short one is named by optopt; a long one is named by argv. */
    const char *name = optopt > 0 && optopt < 128 ? shortopt : argv[optind - 1];

    if (c == ':') {
        snprintf(buf, len, "option '%s' needs a value", name);
    } else {
        snprintf(buf, len, "unknown option '%s'", name);
    }
    return buf;
}
