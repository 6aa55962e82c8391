/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include "stdfds.h"

void stdfds_ensure(void)
{
    /* A descriptor opened while 0, 1 or 2 is closed would take its number:
     * stdin reads would then read the event loop's epoll descriptor, and
     * prints would go into a socket. Fill the holes with /dev/null. */
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0) {
            continue;
        }
        int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (null < 0) {
            _exit(2); /* no descriptor at all: nothing can be said */
        }
        if (null != fd) {
            /* A lower hole was filled first; this one is next. */
            dup2(null, fd);
            close(null);
        }
    }
}
