/* SPDX-License-Identifier: MIT */
/* What the three programs share on their command line. */
#ifndef LIB_CLI_H
#define LIB_CLI_H

#include <stddef.h>

/* After getopt returned '?' or ':' (@c), write into @buf the one usage error
 * for the option it stopped at: "unknown option '--x'" or "option '-j'
 * needs a value". A short option is named alone, even inside a group
 * (-qz). Returns @buf. */
const char *cli_option_error(int c, char **argv, char *buf, size_t len);

#endif
