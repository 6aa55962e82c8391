/* SPDX-License-Identifier: MIT */
/*
 * callbacks/function.c: run a C function from a shared object per param
 * (MINION_FUNCTION=lib.so[:symbol], default symbol minion_function).
 *
 * The function blocks, so it runs on worker threads this plugin owns, never
 * on the loop thread; every task still ends with minion_task_done() on the
 * loop thread. The design keeps the per-task cost well below the core's own
 * (about a microsecond), for no-op functions too:
 *
 *  - process() only appends the task to a batch private to the loop thread
 *    and arms one "kick" event; the kick hands the whole batch to the
 *    workers under one lock.
 *  - a worker pops one task, runs it, and in the same lock section pushes
 *    the result and pops the next one, so a busy worker never sleeps.
 *  - threads start on demand (a new one only when queued tasks outnumber
 *    idle threads), up to MINION_CONCURRENCY. Each worker measures the
 *    function; a sleeping worker is woken (or a thread started) only when
 *    the queued work is worth more than a wake-up costs, so a fast function
 *    keeps one or two threads hot instead of bouncing dozens.
 *  - an idle worker spins briefly (one at a time) before sleeping, and the
 *    loop, after a kick, spins briefly for the results of a fast function:
 *    a round trip then costs no system call. Both spins are short and back
 *    off. The loop's spin holds up every other plugin's events, so it is
 *    bounded: one spin lasts at most LOOP_SPIN_NS (50 us), and none starts
 *    later than LOOP_CHAIN_NS (25 us) after the first of its chain. A kick
 *    that would spin but finds the chain spent re-arms itself as a zero
 *    timeout, which libevent runs only after its next poll, and that run
 *    opens a new chain. So the loop spins at most 75 us between two
 *    polls, far below libevent's timer precision (a millisecond at best,
 *    4 ms with a coarse clock): that is all a socket or a signal can wait
 *    for the spin. It pays: without it a function of a few microseconds
 *    runs two to four times slower and takes more CPU time (system calls,
 *    wake-ups), and chains this short cost no measurable speed.
 *  - otherwise results wake the loop through one eventfd, written only when
 *    the completion list goes from empty to non-empty; the loop takes the
 *    whole list per wakeup.
 *  - list nodes come from a pool owned by the loop thread: no malloc per
 *    task once the pool has grown to the concurrency.
 *
 * There is no cancel hook: a thread cannot be stopped safely in the middle
 * of a user's function. A task past MINION_TIMEOUT is reported failed when
 * the function returns, and shutdown waits for running functions.
 *
 * Load once, run many: the library may also export
 *
 *   int  SYMBOL_setup(int argc, char *const *argv);
 *   void SYMBOL_teardown(void);
 *   char SYMBOL_setup_error[];  (any size; a NUL-terminated string)
 *
 * (minion_function_setup... for the default symbol). Setup runs once, on
 * the loop thread, at the end of start(): before the engine starts and
 * before any worker thread exists, so nothing is consumed yet and every
 * call sees what it wrote (thread creation orders memory). It gets the
 * PROGRAM ARGS... words after the options (argv[0] is the first word,
 * argv[argc] is NULL; argc may be 0). A non-zero return fails start(), so
 * the minion exits 2 with one line: "SYMBOL_setup: " and what setup wrote
 * into SYMBOL_setup_error (newlines become spaces), or "SYMBOL_setup
 * returned N" when it wrote nothing there. Teardown then does not run.
 * Otherwise teardown runs once, on the loop thread, after every worker
 * thread has been joined: at stop(), or at destroy() when the minion ends
 * without a stop (another plugin failed to start). Neither hook runs
 * concurrently with a call. If a function was still running when the
 * minion had to leave (a forced stop), teardown is skipped with a warning:
 * it would race that call. A dry run runs neither hook, as it runs no call.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <minionize/plugin.h>

/* What waking a sleeping thread costs, all told (futex call, scheduling
 * latency): queued work shorter than this is better left to a thread that
 * is already awake. */
#define WAKE_COST_NS 20000ULL
/* How long an idle worker polls the queue before it sleeps. */
#define WORKER_SPIN_NS 50000ULL
/* Idle workers polling at once: more would only steal the loop's CPU. */
#define MAX_SPINNERS 1
/* The loop polls for results only when the function takes less than this
 * on average, and for at most LOOP_SPIN_NS. */
#define LOOP_SPIN_MAX_AVG_NS 10000ULL
#define LOOP_SPIN_NS 50000ULL
/* No spin starts this long after the first of its chain; the next kick
 * waits for libevent to poll (see the comment at the top). */
#define LOOP_CHAIN_NS 25000ULL

struct function_conf {
    char *function; /* MINION_FUNCTION */
};

static const struct minion_option function_options[] = {
    {"MINION_FUNCTION", MINION_OPT_STRING, NULL,
     offsetof(struct function_conf, function), MINION_OPT_REQUIRED,
     "The function to run per param, as lib.so[:symbol] (default symbol "
     "minion_function); a library name without '/' is searched like "
     "dlopen(3) does, so write ./lib.so for one in the working directory; "
     "its optional SYMBOL_setup(argc, argv), given the words after the "
     "options, and SYMBOL_teardown() run once before the first call and "
     "after the last."},
    {NULL},
};

/* One task on its way through the queues. Pooled by the loop thread. */
struct fn_node {
    struct fn_node *next;
    minion_task *task;
    int rc; /* what the function returned */
};

/* A FIFO of nodes; tail points at the last next field. */
struct fn_list {
    struct fn_node *head;
    struct fn_node **tail;
};

struct fn_state;

struct fn_worker {
    struct fn_worker *next_idle; /* on fn_state.idle while asleep */
    struct fn_state *st;
    pthread_t thread;
    pthread_cond_t cv;
    int woken;       /* set by the waker, under fn_state.mu */
    int busy;        /* inside the user's function, under fn_state.mu */
    int thread_gone; /* joined or detached: loop thread only */
    unsigned spin_skip, spin_backoff; /* as in fn_state, for this worker */
};

struct fn_state {
    struct minion_instance *inst;
    char *path;         /* the library as given */
    const char *symbol; /* points into the conf string, or the default */
    void *lib;
    minion_function_fn fn;
    unsigned max_threads;
    /* The library's optional hooks, NULL when absent. Loop thread only. */
    int (*setup)(int argc, char *const *argv);
    void (*teardown)(void);
    int teardown_due; /* start() went through setup: teardown runs once */

    /* Loop thread only. */
    int efd; /* eventfd: workers -> loop */
    struct event *wake_ev;
    struct event *kick_ev;
    struct fn_node *pool; /* free nodes */
    struct fn_list batch; /* processed, not yet given to the workers */
    size_t batch_len;
    struct fn_worker *workers; /* max_threads slots */
    unsigned started;          /* threads created */
    size_t handed;             /* given to the workers, not yet drained */
    int abandoned;             /* threads were left running a function */
    unsigned spin_skip;        /* kicks left without a loop spin */
    unsigned spin_backoff;     /* the last skip, doubled on each failure */
    /* When the first spin of the loop's current chain began; 0: none, the
     * next spin opens a chain. */
    unsigned long long chain_start;

    /* Shared, under mu. The atomics are also polled without it. */
    pthread_mutex_t mu;
    struct fn_list queue; /* waiting for a worker */
    atomic_size_t queued;
    struct fn_list done; /* finished, waiting for the loop */
    atomic_size_t n_done;
    struct fn_worker *idle; /* sleeping workers, a stack */
    size_t waking;          /* workers told to run, not yet running */
    size_t spinners;        /* idle workers polling the queue */
    size_t busy;            /* workers inside the function */
    int loop_spinning;      /* the loop polls n_done: no eventfd needed */
    int stopping;

    /* Written by workers without the lock: an estimate is enough. */
    atomic_ullong avg_ns; /* moving average of a call; 0: none yet */
};

static void list_init(struct fn_list *l)
{
    l->head = NULL;
    l->tail = &l->head;
}

static void list_push(struct fn_list *l, struct fn_node *n)
{
    n->next = NULL;
    *l->tail = n;
    l->tail = &n->next;
}

static void list_splice(struct fn_list *dst, struct fn_list *src)
{
    if (src->head == NULL) {
        return;
    }
    *dst->tail = src->head;
    dst->tail = src->tail;
    list_init(src);
}

static void free_nodes(struct fn_node *n)
{
    while (n != NULL) {
        struct fn_node *next = n->next;
        free(n);
        n = next;
    }
}

static unsigned long long mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ULL +
           (unsigned long long)ts.tv_nsec;
}

/* Be polite to the sibling hyperthread while polling. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* Poll @counter until it reaches @target or @limit_ns pass. Returns 1 when
 * it got there. */
static int spin_on(atomic_size_t *counter, size_t target,
                   unsigned long long limit_ns)
{
    unsigned long long start = mono_ns();
    unsigned i = 0;

    while (atomic_load_explicit(counter, memory_order_relaxed) < target) {
        cpu_relax();
        if ((++i & 31) == 0 && mono_ns() - start > limit_ns) {
            return 0;
        }
    }
    return 1;
}

/* After a spin that timed out, skip the next @backoff chances to spin: one
 * at first, then twice as many each time in a row, up to 256. On a busy
 * machine the thread we wait for may not even be running, and spinning
 * only delays it; but one late answer (the loop serving a /metrics scrape)
 * must not cost more than a few slow hand-offs: starting at 16 made each
 * scrape cost about a tenth of the throughput for a moment. */
static void spin_failed(unsigned *skip, unsigned *backoff)
{
    *backoff = *backoff == 0 ? 1 : *backoff < 256 ? *backoff * 2 : 256;
    *skip = *backoff;
}

/* How many more workers the queued tasks deserve. Idle workers still awake
 * (spinning, or woken) take tasks anyway; busy ones are back soon when the
 * function is fast. Under mu. */
static size_t extra_workers(struct fn_state *st)
{
    size_t queued = atomic_load_explicit(&st->queued, memory_order_relaxed);
    size_t awake = st->spinners + st->waking, active = awake + st->busy;
    unsigned long long avg =
        atomic_load_explicit(&st->avg_ns, memory_order_relaxed);
    unsigned long long useful;
    size_t want;

    if (queued <= awake) {
        return 0;
    }
    want = queued - awake; /* a thread per task nobody will take */
    if (avg != 0) {
        /* Known cost: as many workers as get through the queue in about
         * one wake-up's time, and at least one. */
        useful = (unsigned long long)queued * avg / WAKE_COST_NS + 1;
        if (useful <= active) {
            return 0;
        }
        if (useful - active < want) {
            want = (size_t)(useful - active);
        }
    }
    return want;
}

/* Wake up to @n sleeping workers. Under mu. Returns how many. */
static size_t wake_sleepers(struct fn_state *st, size_t n)
{
    size_t woken = 0;

    while (woken < n && st->idle != NULL) {
        struct fn_worker *w = st->idle;
        st->idle = w->next_idle;
        w->woken = 1;
        st->waking++;
        pthread_cond_signal(&w->cv);
        woken++;
    }
    return woken;
}

/* ------------------------------------------------------------------------ */
/* Worker threads                                                            */

/* Wake the loop. The counter cannot overflow in practice (2^64 - 1). */
static void notify_loop(struct fn_state *st)
{
    uint64_t one = 1;
    ssize_t n;

    do {
        n = write(st->efd, &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
}

static void record_duration(struct fn_state *st, unsigned long long ns)
{
    unsigned long long avg =
        atomic_load_explicit(&st->avg_ns, memory_order_relaxed);

    /* 0 means "unknown"; an hour caps the arithmetic in extra_workers. */
    if (ns == 0) {
        ns = 1;
    } else if (ns > 3600000000000ULL) {
        ns = 3600000000000ULL;
    }
    avg = avg == 0 ? ns : avg - avg / 8 + ns / 8;
    atomic_store_explicit(&st->avg_ns, avg != 0 ? avg : 1,
                          memory_order_relaxed);
}

static void *worker_main(void *arg)
{
    struct fn_worker *w = arg;
    struct fn_state *st = w->st;
    struct fn_node *finished = NULL;
    unsigned long long t0;
    int notify = 0, spun = 0;

    pthread_mutex_lock(&st->mu);
    st->waking--; /* a new thread was counted as woken by its creator */
    for (;;) {
        if (finished != NULL) {
            if (st->done.head == NULL && !st->loop_spinning) {
                notify = 1;
            }
            list_push(&st->done, finished);
            atomic_store_explicit(
                &st->n_done,
                atomic_load_explicit(&st->n_done, memory_order_relaxed) + 1,
                memory_order_release);
            finished = NULL;
            w->busy = 0;
            st->busy--;
        }
        if (st->queue.head == NULL || st->stopping) {
            if (notify) {
                /* Tell the loop before waiting, outside the lock. */
                pthread_mutex_unlock(&st->mu);
                notify_loop(st);
                notify = 0;
                pthread_mutex_lock(&st->mu);
                continue;
            }
            if (st->stopping) {
                break;
            }
            if (!spun && w->spin_skip > 0) {
                w->spin_skip--;
            } else if (!spun && st->spinners < MAX_SPINNERS) {
                st->spinners++;
                pthread_mutex_unlock(&st->mu);
                if (spin_on(&st->queued, 1, WORKER_SPIN_NS)) {
                    w->spin_backoff = 0;
                } else {
                    spin_failed(&w->spin_skip, &w->spin_backoff);
                }
                pthread_mutex_lock(&st->mu);
                st->spinners--;
                spun = 1;
                continue;
            }
            w->next_idle = st->idle;
            st->idle = w;
            while (!w->woken && !st->stopping) {
                pthread_cond_wait(&w->cv, &st->mu);
            }
            if (w->woken) {
                w->woken = 0;
                st->waking--;
            }
            spun = 0;
            continue;
        }
        finished = st->queue.head;
        st->queue.head = finished->next;
        if (st->queue.head == NULL) {
            st->queue.tail = &st->queue.head;
        }
        atomic_store_explicit(
            &st->queued,
            atomic_load_explicit(&st->queued, memory_order_relaxed) - 1,
            memory_order_relaxed);
        w->busy = 1;
        st->busy++;
        spun = 0;
        /* More work than the awake threads should take on: pass it on, one
         * sleeper at a time (each woken worker looks again). */
        if (st->queue.head != NULL && st->idle != NULL &&
            extra_workers(st) > 0) {
            wake_sleepers(st, 1);
        }
        pthread_mutex_unlock(&st->mu);
        if (notify) {
            notify_loop(st);
            notify = 0;
        }
        t0 = mono_ns();
        finished->rc =
            st->fn(finished->task, minion_task_output(finished->task));
        record_duration(st, mono_ns() - t0);
        pthread_mutex_lock(&st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

/* Start one more worker. Loop thread only. Returns 0 or -errno. */
static int spawn_worker(struct fn_state *st)
{
    struct fn_worker *w = &st->workers[st->started];
    sigset_t all, old;
    int err;

    memset(w, 0, sizeof(*w));
    w->st = st;
    err = pthread_cond_init(&w->cv, NULL);
    if (err != 0) {
        return -err;
    }
    /* Signals belong to the loop thread: workers inherit a full mask. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        pthread_cond_destroy(&w->cv);
        return -err;
    }
    st->started++;
    return 0;
}

/* Tell every worker to leave, and wait for them. Normally every task is
 * settled by now, so all are idle. After a forced stop a function may still
 * be running, and nothing can interrupt it: that thread is left to the
 * process's exit, along with the state and the library it uses. Returns
 * whether any thread was ever left so. Loop thread only. */
static int stop_workers(struct fn_state *st)
{
    unsigned i, left = 0;

    pthread_mutex_lock(&st->mu);
    st->stopping = 1;
    for (i = 0; i < st->started; i++) {
        struct fn_worker *w = &st->workers[i];
        if (w->thread_gone) {
            continue;
        }
        pthread_cond_signal(&w->cv);
        if (w->busy) {
            left++;
            pthread_detach(w->thread);
            w->thread_gone = 1;
        }
    }
    pthread_mutex_unlock(&st->mu);
    if (left > 0) {
        minion_log(st->inst, MINION_LOG_WARN,
                   "%u function%s still running; left to the exit", left,
                   left == 1 ? " is" : "s are");
        st->abandoned = 1;
    }
    for (i = 0; i < st->started; i++) {
        struct fn_worker *w = &st->workers[i];
        if (!w->thread_gone) {
            pthread_join(w->thread, NULL);
            pthread_cond_destroy(&w->cv);
            w->thread_gone = 1;
        }
    }
    return st->abandoned;
}

/* ------------------------------------------------------------------------ */
/* Loop side                                                                 */

/* End one task on the loop thread. Takes: node (back to the pool). */
static void complete(struct fn_state *st, struct fn_node *node)
{
    minion_task *task = node->task;
    int rc = node->rc;

    node->next = st->pool;
    st->pool = node;
    if (rc != MINION_OK && rc != MINION_RETRY && rc != MINION_REJECT) {
        minion_task_set_error(task, "function returned %d", rc);
        rc = MINION_RETRY;
    }
    minion_task_done(task, (enum minion_outcome)rc);
}

/* Take every finished task and end them. Returns how many. */
static size_t drain(struct fn_state *st)
{
    struct fn_list got;
    struct fn_node *n, *next;
    size_t count = 0;

    pthread_mutex_lock(&st->mu);
    st->loop_spinning = 0;
    got = st->done;
    list_init(&st->done);
    atomic_store_explicit(&st->n_done, 0, memory_order_relaxed);
    pthread_mutex_unlock(&st->mu);
    for (n = got.head; n != NULL; n = n->next) {
        count++;
    }
    st->handed -= count;
    /* Done may re-enter process(), which only touches the pool and batch. */
    for (n = got.head; n != NULL; n = next) {
        next = n->next;
        complete(st, n);
    }
    return count;
}

/* Hand the batch to the workers: one lock for all the tasks process() took
 * since the last kick. Run by event_active() from process(), or as a zero
 * timeout (EV_TIMEOUT) when a spent chain waits for libevent to poll. */
static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    static const struct timeval after_poll = {0, 0};
    struct fn_state *st = arg;
    unsigned long long avg, now;
    size_t need, spawn;
    int spin = 0, err;

    if (st->batch.head == NULL) {
        return;
    }
    if (what & EV_TIMEOUT) {
        st->chain_start = 0; /* libevent runs timers only after a poll */
    }
    avg = atomic_load_explicit(&st->avg_ns, memory_order_relaxed);
    if (st->spin_skip > 0) {
        st->spin_skip--;
    } else if (avg != 0 && avg < LOOP_SPIN_MAX_AVG_NS) {
        now = mono_ns();
        if (st->chain_start == 0) {
            st->chain_start = now;
            spin = 1;
        } else if (now - st->chain_start < LOOP_CHAIN_NS) {
            spin = 1;
        } else if (event_add(st->kick_ev, &after_poll) == 0) {
            /* The batch keeps growing meanwhile; process() adds to it
             * without a kick of its own. */
            return;
        }
    }
    pthread_mutex_lock(&st->mu);
    list_splice(&st->queue, &st->batch);
    atomic_store_explicit(
        &st->queued,
        atomic_load_explicit(&st->queued, memory_order_relaxed) + st->batch_len,
        memory_order_relaxed);
    st->handed += st->batch_len;
    st->batch_len = 0;
    need = extra_workers(st);
    if (need > 0) {
        /* A woken thread takes a while to run, likely on this very CPU:
         * polling for its results would only be in its way. */
        spin = 0;
    }
    need -= wake_sleepers(st, need);
    spawn = need < st->max_threads - st->started
                ? need
                : st->max_threads - st->started;
    st->waking += spawn;
    st->loop_spinning = spin;
    pthread_mutex_unlock(&st->mu);

    while (spawn > 0) {
        err = spawn_worker(st);
        if (err < 0) {
            pthread_mutex_lock(&st->mu);
            st->waking -= spawn;
            pthread_mutex_unlock(&st->mu);
            if (st->started == 0) {
                /* Nobody would ever run the queued tasks. */
                minion_instance_fail(st->inst, "cannot start a thread: %s",
                                     strerror(-err));
                return;
            }
            minion_log(st->inst, MINION_LOG_WARN,
                       "cannot start a thread (%s): going on with %u",
                       strerror(-err), st->started);
            break;
        }
        spawn--;
    }
    if (spin) {
        /* A fast function answers within microseconds: wait for it here
         * rather than through epoll and an eventfd write, and for all the
         * tasks out, so the next round hands out a full batch. */
        if (spin_on(&st->n_done, st->handed, LOOP_SPIN_NS)) {
            st->spin_backoff = 0;
        } else {
            spin_failed(&st->spin_skip, &st->spin_backoff);
        }
        drain(st);
    }
}

/* Results are in: end them all. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct fn_state *st = arg;
    uint64_t count;

    /* Reset the counter first: a result pushed after drain() takes the
     * list writes again and brings us back. */
    if (read(st->efd, &count, sizeof(count)) < 0 && errno != EAGAIN &&
        errno != EINTR) {
        minion_instance_fail(st->inst, "eventfd read: %s", strerror(errno));
        return;
    }
    drain(st);
}

/* ------------------------------------------------------------------------ */
/* Hooks                                                                     */

/* A C identifier, as a symbol after the last ':' must be. */
static int is_identifier(const char *s)
{
    if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) {
        return 0;
    }
    for (s++; *s != '\0'; s++) {
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9'))) {
            return 0;
        }
    }
    return 1;
}

/* Look up the optional export "<symbol><suffix>" into *@out, NULL when the
 * library has none. Returns 0, or -ENOMEM with the error set. */
static int optional_symbol(struct fn_state *st, const char *suffix, void **out)
{
    size_t n = strlen(st->symbol), m = strlen(suffix);
    char *name = malloc(n + m + 1);

    *out = NULL;
    if (name == NULL) {
        minion_set_error(st->inst, "out of memory");
        return -ENOMEM;
    }
    memcpy(name, st->symbol, n);
    memcpy(name + n, suffix, m + 1);
    *out = dlsym(st->lib, name);
    dlerror(); /* absent is not an error: leave nothing for the next caller */
    free(name);
    return 0;
}

/* Call the library's setup with the words after the options. Loop thread,
 * before any worker exists. Returns 0, or < 0 with the error set from
 * SYMBOL_setup_error, or naming the return value. */
static int run_setup(struct fn_state *st)
{
    const struct minion_context *ctx = minion_instance_context(st->inst);
    char why[512];
    void *msg;
    size_t len, i;
    int rc, err;

    rc = st->setup(ctx->argc, ctx->argv);
    if (rc == 0) {
        return 0;
    }
    err = optional_symbol(st, "_setup_error", &msg);
    if (err < 0) {
        return err;
    }
    /* One line, whatever the library wrote. */
    len = msg != NULL ? strnlen(msg, sizeof(why) - 1) : 0;
    memcpy(why, msg != NULL ? msg : "", len);
    for (i = 0; i < len; i++) {
        if (why[i] == '\n' || why[i] == '\r' || why[i] == '\t') {
            why[i] = ' ';
        }
    }
    while (len > 0 && why[len - 1] == ' ') {
        len--;
    }
    why[len] = '\0';
    if (len == 0) {
        minion_set_error(st->inst, "%s_setup returned %d", st->symbol, rc);
    } else {
        minion_set_error(st->inst, "%s_setup: %s", st->symbol, why);
    }
    return -EINVAL;
}

/* Run the library's teardown if it is due: once, after every worker thread
 * is gone (@abandoned: a function still runs, so it is skipped). Loop
 * thread only. */
static void run_teardown(struct fn_state *st, int abandoned)
{
    if (!st->teardown_due) {
        return;
    }
    st->teardown_due = 0;
    if (st->teardown == NULL) {
        return;
    }
    if (abandoned) {
        minion_log(st->inst, MINION_LOG_WARN,
                   "%s_teardown not run: a function is still running",
                   st->symbol);
        return;
    }
    st->teardown();
}

static int function_init(struct minion_instance *inst, void *conf)
{
    struct function_conf *c = conf;
    struct fn_state *st;
    const char *spec = c->function, *colon;

    if (spec == NULL || *spec == '\0') {
        minion_set_error(inst,
                         "MINION_FUNCTION is empty: give lib.so[:symbol]");
        return -EINVAL;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    st->inst = inst;
    st->efd = -1;
    list_init(&st->batch);
    list_init(&st->queue);
    list_init(&st->done);
    /* A ':' followed by something that is not an identifier belongs to the
     * path, so "lib.so" and "dir:x/lib.so" both mean the default symbol. */
    colon = strrchr(spec, ':');
    if (colon != NULL && colon[1] == '\0') {
        minion_set_error(inst, "MINION_FUNCTION=%s: empty symbol after ':'",
                         spec);
        free(st);
        return -EINVAL;
    }
    if (colon != NULL && is_identifier(colon + 1)) {
        st->path = strndup(spec, (size_t)(colon - spec));
        st->symbol = colon + 1;
    } else {
        st->path = strdup(spec);
        st->symbol = "minion_function";
    }
    if (st->path == NULL) {
        minion_set_error(inst, "out of memory");
        free(st);
        return -ENOMEM;
    }
    if (*st->path == '\0') {
        minion_set_error(inst, "MINION_FUNCTION=%s: empty library path", spec);
        free(st->path);
        free(st);
        return -EINVAL;
    }
    if (pthread_mutex_init(&st->mu, NULL) != 0) {
        minion_set_error(inst, "cannot create a mutex");
        free(st->path);
        free(st);
        return -ENOMEM;
    }
    minion_instance_set_data(inst, st);
    return 0;
}

static int function_start(struct minion_instance *inst, struct event_base *base)
{
    struct fn_state *st = minion_instance_data(inst);
    const char *err;
    void *sym;

    st->max_threads = minion_instance_context(inst)->concurrency;
    if (st->max_threads == 0) {
        st->max_threads = 1;
    }
    st->lib = dlopen(st->path, RTLD_NOW | RTLD_LOCAL);
    if (st->lib == NULL) {
        err = dlerror();
        minion_set_error(inst, "%s", err != NULL ? err : st->path);
        dlerror(); /* glibc frees the text it kept once asked again */
        return -ENOENT;
    }
    dlerror();
    sym = dlsym(st->lib, st->symbol);
    err = dlerror();
    if (err != NULL || sym == NULL) {
        minion_set_error(inst, "%s", err != NULL ? err : "symbol is NULL");
        dlerror();
        return -ENOENT;
    }
    /* POSIX guarantees a function pointer survives the round trip through
     * void * for dlsym's sake. */
    memcpy(&st->fn, &sym, sizeof(st->fn));

    st->workers = calloc(st->max_threads, sizeof(*st->workers));
    if (st->workers == NULL) {
        minion_set_error(inst, "out of memory");
        return -ENOMEM;
    }
    st->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (st->efd < 0) {
        minion_set_error(inst, "eventfd: %s", strerror(errno));
        return -errno;
    }
    st->wake_ev = event_new(base, st->efd, EV_READ | EV_PERSIST, on_wake, st);
    st->kick_ev = event_new(base, -1, 0, on_kick, st);
    if (st->wake_ev == NULL || st->kick_ev == NULL ||
        event_add(st->wake_ev, NULL) < 0) {
        minion_set_error(inst, "cannot create events");
        return -ENOMEM;
    }

    /* Last, so that nothing after a successful setup can fail start(). A
     * dry run calls nothing, so it sets nothing up either. */
    if (minion_instance_context(inst)->dry_run) {
        return 0;
    }
    if (optional_symbol(st, "_setup", &sym) < 0) {
        return -ENOMEM;
    }
    memcpy(&st->setup, &sym, sizeof(st->setup));
    if (optional_symbol(st, "_teardown", &sym) < 0) {
        return -ENOMEM;
    }
    memcpy(&st->teardown, &sym, sizeof(st->teardown));
    if (st->setup != NULL && run_setup(st) < 0) {
        return -EINVAL;
    }
    st->teardown_due = 1;
    return 0;
}

static void function_process(struct minion_instance *inst, minion_task *task)
{
    struct fn_state *st = minion_instance_data(inst);
    struct fn_node *n = st->pool;

    if (n != NULL) {
        st->pool = n->next;
    } else {
        n = malloc(sizeof(*n));
        if (n == NULL) {
            minion_task_set_error(task, "out of memory");
            minion_task_done(task, MINION_RETRY);
            return;
        }
    }
    n->task = task;
    n->rc = MINION_RETRY;
    list_push(&st->batch, n);
    /* The first task of a batch arms the kick; the rest ride along. */
    if (st->batch_len++ == 0) {
        event_active(st->kick_ev, 0, 0);
    }
}

static int function_stop(struct minion_instance *inst)
{
    struct fn_state *st = minion_instance_data(inst);

    run_teardown(st, stop_workers(st));
    return 0;
}

static void function_destroy(struct minion_instance *inst)
{
    struct fn_state *st = minion_instance_data(inst);
    int abandoned;

    if (st == NULL) {
        return;
    }
    abandoned = stop_workers(st);
    run_teardown(st, abandoned);
    if (abandoned) {
        /* Running threads still use the state and the library's code:
         * freeing either would crash them before the process exits. */
        if (st->wake_ev != NULL) {
            event_free(st->wake_ev);
            st->wake_ev = NULL;
        }
        if (st->kick_ev != NULL) {
            event_free(st->kick_ev);
            st->kick_ev = NULL;
        }
        minion_instance_set_data(inst, NULL);
        return;
    }
    if (st->wake_ev != NULL) {
        event_free(st->wake_ev);
    }
    if (st->kick_ev != NULL) {
        event_free(st->kick_ev);
    }
    if (st->efd >= 0) {
        close(st->efd);
    }
    /* Every task is settled by now; these lists hold bare nodes. */
    free_nodes(st->pool);
    free_nodes(st->batch.head);
    free_nodes(st->queue.head);
    free_nodes(st->done.head);
    free(st->workers);
    if (st->lib != NULL) {
        dlclose(st->lib);
    }
    pthread_mutex_destroy(&st->mu);
    free(st->path);
    free(st);
    minion_instance_set_data(inst, NULL);
}

static const struct minion_callback_ops function_ops = {
    MINION_OPS_HEADER(struct minion_callback_ops),
    .process = function_process,
};

const struct minion_plugin minion_plugin_function = {
    MINION_PLUGIN_HEADER(MINION_KIND_CALLBACK),
    .name = "function",
    .summary = "Run a C function from a shared object on worker threads",
    .conf_size = sizeof(struct function_conf),
    .options = function_options,
    .init = function_init,
    .start = function_start,
    .stop = function_stop,
    .destroy = function_destroy,
    .callback = &function_ops,
};
