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

/* Queues: the same links, reached from a struct with `head`, `tail` and a
 * count `n`, so that the oldest is at hand and the newest is added in
 * O(1) (the engines' held and running params). */

/* Put @node last in @q (a queue struct lvalue). */
#define DQUEUE_APPEND(q, node)                                                 \
    do {                                                                       \
        (node)->next = NULL;                                                   \
        (node)->prev = (q).tail;                                               \
        if ((q).tail != NULL) {                                                \
            (q).tail->next = (node);                                           \
        } else {                                                               \
            (q).head = (node);                                                 \
        }                                                                      \
        (q).tail = (node);                                                     \
        (q).n++;                                                               \
    } while (0)

/* Put @node in @q right after @after, which is in @q; NULL: first. */
#define DQUEUE_INSERT_AFTER(q, after, node)                                    \
    do {                                                                       \
        (node)->prev = (after);                                                \
        (node)->next = (after) != NULL ? (after)->next : (q).head;             \
        if ((node)->next != NULL) {                                            \
            (node)->next->prev = (node);                                       \
        } else {                                                               \
            (q).tail = (node);                                                 \
        }                                                                      \
        if ((after) != NULL) {                                                 \
            (after)->next = (node);                                            \
        } else {                                                               \
            (q).head = (node);                                                 \
        }                                                                      \
        (q).n++;                                                               \
    } while (0)

/* Take @node, which is in @q, out of it; its own links are cleared. */
#define DQUEUE_REMOVE(q, node)                                                 \
    do {                                                                       \
        if ((node)->prev != NULL) {                                            \
            (node)->prev->next = (node)->next;                                 \
        } else {                                                               \
            (q).head = (node)->next;                                           \
        }                                                                      \
        if ((node)->next != NULL) {                                            \
            (node)->next->prev = (node)->prev;                                 \
        } else {                                                               \
            (q).tail = (node)->prev;                                           \
        }                                                                      \
        (node)->prev = (node)->next = NULL;                                    \
        (q).n--;                                                               \
    } while (0)

#endif
