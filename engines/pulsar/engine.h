/* SPDX-License-Identifier: MIT */
/* The pulsar engine's shared state. One minion holds one WebSocket
 * consumer connection to the broker's HTTP port (conn.c): messages come in
 * on it against permits (reader.c), and acks, negative acks and permits go
 * out on it. Everything else is plain HTTP on the loop (http.c), made only
 * when needed: dead letters through the REST producer (dlq.c) and the
 * subscription's figures through the admin API (queue.c). */
#ifndef PULSAR_ENGINE_H
#define PULSAR_ENGINE_H

#include <stddef.h>

#include <minionize/plugin.h>

#include "http.h"
#include "pulsar.h"

struct event;
struct dlq_req;
struct ws_conn;

/* The settings table fills this. */
struct pulsar_conf {
    char *url;
    char *topic;
    char *subscription;
    char *token;
};

/* One message this minion holds: received and waiting for credit (held),
 * or handed to the core (running; the core's handle), or settled and
 * waiting for its dead letter to be stored (dlq.c's). */
struct ptask {
    struct ptask *prev, *next;
    char *id;   /* the messageId, as the broker wrote it */
    char *task; /* the task id, when a stop put the message back; NULL: id */
    unsigned attempt;
    unsigned gen; /* the connection it came on (pulsar_engine.gen); 0: a
                     connection lost since, while it runs */
    char *param;  /* held only */
    size_t len;
    double due; /* delayed only: when its nack goes (monotonic seconds) */
};

struct plist {
    struct ptask *head, *tail;
    size_t n;
};

/* A frame to send once the connection is open again. */
struct outbox {
    char **frames;
    size_t n, cap;
};

struct pulsar_engine {
    struct minion_instance *inst;
    struct event_base *base;
    const struct minion_context *ctx;
    const struct pulsar_conf *conf;

    char *base_url; /* PULSAR_URL without trailing slashes */
    struct phttp_target http;
    struct pulsar_topic topic, dlq;
    const char *subscription;
    const char *token; /* NULL: none */
    char *ws_url;

    /* conn.c */
    struct ws_conn *ws;
    int open;      /* the upgrade succeeded: frames may be sent */
    int closing;   /* our close handshake is under way */
    int ever_open; /* once open, refusals are outages, not settings */
    int outage;    /* a loss was logged and nothing worked since */
    unsigned gen;  /* bumped at every connection */
    int backoff_ms;
    struct event *retry_ev;
    struct outbox out;

    /* reader.c: credit is what the core granted and no delivery used yet;
     * permits, what the broker may still send on this connection. */
    unsigned credit;
    unsigned permits;
    unsigned old_running; /* running tasks from an earlier connection */
    struct plist held, running;
    struct plist delayed; /* failed, waiting out MINION_RETRY_DELAY (delay.c) */
    struct event *delay_ev;
    double last_message; /* monotonic seconds */

    /* dlq.c: dead letters being stored */
    struct dlq_req *dead;
    size_t n_dead;

    /* queue.c */
    int stats_out;     /* a fetch is out */
    double stats_sent; /* monotonic seconds; 0: never */
    int have_figures;
    long long backlog, unacked; /* the subscription's, as last fetched */
    struct event *drain_ev;
    int drained;

    int paused;
    int stopping;
    int dying;
    struct event *stop_ev;
};

/* pulsar.c */
void plist_append(struct plist *l, struct ptask *t);
void plist_remove(struct plist *l, struct ptask *t);
void ptask_free(struct ptask *t);
double mono_now(void);
/* stop(): end once nothing is left to send. */
void engine_maybe_stopped(struct pulsar_engine *e);

/* conn.c */
int conn_init(struct pulsar_engine *e);
void conn_open(struct pulsar_engine *e);
/* Send @frame now, or once the connection is back. Takes: frame. */
void conn_send(struct pulsar_engine *e, char *frame);
/* Send @frame if the connection is open, else drop it (permits: they die
 * with the connection). Borrows: frame. */
int conn_send_now(struct pulsar_engine *e, const char *frame);
/* Nothing waits to be sent. */
int conn_idle(const struct pulsar_engine *e);
/* Start the close handshake (stop). */
void conn_close(struct pulsar_engine *e);
void conn_fini(struct pulsar_engine *e);

/* reader.c */
void reader_on_open(struct pulsar_engine *e);
void reader_on_down(struct pulsar_engine *e);
void reader_on_message(struct pulsar_engine *e, const char *data, size_t len);
/* Deliver what is held, then ask for what credit is left. */
void reader_pump(struct pulsar_engine *e);
void reader_pause(struct pulsar_engine *e);

/* delay.c: a failed message waits @seconds, unacked, then is nacked so
 * that any consumer gets it. Takes: t. */
int delay_init(struct pulsar_engine *e);
void delay_add(struct pulsar_engine *e, struct ptask *t, double seconds);
/* The connection is gone, or the minion stops: the broker gives the
 * waiting messages back by itself. */
void delay_forget(struct pulsar_engine *e);
void delay_fini(struct pulsar_engine *e);

/* dlq.c: store the param in the dead-letter topic, then ack @t; or, when
 * that fails, nack it so that it comes back. Takes: t. Borrows: rep. */
void dlq_publish(struct pulsar_engine *e, struct ptask *t,
                 const struct minion_report *rep);
/* A stop: put @t's param back at the end of the topic as a new message
 * that carries the attempts it had used (@attempts_used) and its task id,
 * then ack @t, so that the run the stop cut short is not counted. If the
 * copy cannot be stored, @t stays unacked as before. Takes: t. */
void dlq_requeue(struct pulsar_engine *e, struct ptask *t, const char *param,
                 size_t len, unsigned attempts_used);
int dlq_idle(const struct pulsar_engine *e);
/* After phttp_target_fini(): forget what is still being stored. */
void dlq_fini(struct pulsar_engine *e);

/* queue.c */
void queue_get(struct pulsar_engine *e, struct minion_queue *out);
/* Locally idle: look whether the subscription is empty (drain). */
void queue_drain_check(struct pulsar_engine *e);
int queue_init(struct pulsar_engine *e);
void queue_fini(struct pulsar_engine *e);

/* msg.c: the WebSocket API's JSON, pure. */
/* Properties of a message a stop put back at the end of the topic, so
 * that the run the stop cut short is not counted (dlq.c): the attempts its
 * param had used, and its task id. */
#define PULSAR_PROP_ATTEMPTS "minionize_attempts"
#define PULSAR_PROP_TASK "minionize_task"

struct pmsg {
    const char *id; /* borrowed from the parsed tree */
    char *payload;  /* decoded; caller frees */
    size_t len;
    long long redelivery;
    long long attempts_used; /* PULSAR_PROP_ATTEMPTS; 0: none */
    const char *task;        /* PULSAR_PROP_TASK, borrowed; NULL: none */
};
/* Parse one frame from the broker. Returns 1 for a message (free
 * msg->payload and call pmsg_done()), 0 for another frame (ignored), or
 * -EPROTO with a reason in @err. */
int pmsg_parse(const char *data, size_t len, struct pmsg *msg, void **tree,
               char *err, size_t errlen);
void pmsg_done(void *tree);
/* Returns: a new frame (caller frees), or NULL. */
char *pframe_ack(const char *id);
char *pframe_nack(const char *id);
char *pframe_permit(unsigned n);
/* Decode base64 @in into @out (room for len*3/4+3). Returns the length, or
 * -EINVAL. */
long base64_decode(const char *in, size_t len, char *out);
/* Returns: @in in base64, a new string (caller frees), or NULL. */
char *base64_encode(const char *in, size_t len);

#endif
