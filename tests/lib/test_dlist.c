/* SPDX-License-Identifier: MIT */
/* lib/dlist.h's queue: nodes put first, between and last keep both
 * directions and the count right. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "dlist.h"

struct node {
    struct node *prev, *next;
    int v;
};

struct queue {
    struct node *head, *tail;
    size_t n;
};

/* The values from head to tail, checked against the walk back. */
static void expect(const struct queue *q, const int *want, size_t n)
{
    const struct node *x = q->head;
    size_t i;

    assert_int_equal(q->n, n);
    for (i = 0; i < n; i++, x = x->next) {
        assert_non_null(x);
        assert_int_equal(x->v, want[i]);
    }
    assert_null(x);
    for (x = q->tail; i > 0; x = x->prev) {
        assert_non_null(x);
        assert_int_equal(x->v, want[--i]);
    }
    assert_null(x);
}

static void insert_first_between_last(void **state)
{
    struct queue q = {NULL, NULL, 0};
    struct node a = {.v = 1}, b = {.v = 2}, c = {.v = 3}, d = {.v = 4};

    DQUEUE_INSERT_AFTER(q, (struct node *)NULL, &b); /* into an empty one */
    expect(&q, (const int[]){2}, 1);
    DQUEUE_INSERT_AFTER(q, (struct node *)NULL, &a); /* first */
    expect(&q, (const int[]){1, 2}, 2);
    DQUEUE_INSERT_AFTER(q, &b, &d); /* last */
    expect(&q, (const int[]){1, 2, 4}, 3);
    DQUEUE_INSERT_AFTER(q, &b, &c); /* between */
    expect(&q, (const int[]){1, 2, 3, 4}, 4);
    DQUEUE_REMOVE(q, &a);
    DQUEUE_REMOVE(q, &d);
    expect(&q, (const int[]){2, 3}, 2);
    DQUEUE_APPEND(q, &a);
    expect(&q, (const int[]){2, 3, 1}, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(insert_first_between_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
