/* SPDX-License-Identifier: MIT */
/* Standard descriptors that are sure to be open. */
#ifndef LIB_STDFDS_H
#define LIB_STDFDS_H

/* Open /dev/null on whichever of descriptors 0, 1 and 2 is closed. Call
 * first thing in main(), before anything opens a descriptor. */
void stdfds_ensure(void);

#endif
