/* SPDX-License-Identifier: MIT */
/* Doubly linked lists threaded through their elements: any struct with
 * `prev` and `next` pointers to its own type, reached from a head pointer
 * (NULL when empty). Both operations are O(1) and need no allocation. */
#ifndef LIB_DLIST_H
#define LIB_DLIST_H

/* Put @node first in the list that starts at @head (a pointer lvalue). */
#define DLIST_PUSH(head, node)                                                 \
    do {                                                                       \
        (node)->prev = NULL;                                                   \
        (node)->next = (head);                                                 \
        if ((head) != NULL) {                                                  \
            (head)->prev = (node);                                             \
        }                                                                      \
        (head) = (node);                                                       \
    } while (0)

/* Take @node out of the list that starts at @head; its own links are
 * cleared, so unlinking it again is harmless only if it is not @head's. */
#define DLIST_UNLINK(head, node)                                               \
    do {                                                                       \
        if ((node)->prev != NULL) {                                            \
            (node)->prev->next = (node)->next;                                 \
        } else if ((head) == (node)) {                                         \
            (head) = (node)->next;                                             \
        }                                                                      \
        if ((node)->next != NULL) {                                            \
            (node)->next->prev = (node)->prev;                                 \
        }                                                                      \
        (node)->prev = (node)->next = NULL;                                    \
    } while (0)

#endif
