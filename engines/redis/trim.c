/* SPDX-License-Identifier: MIT */
/* REDIS_TRIM: keep the params stream from growing with a sweep. Redis 7.0
 * has no delete-on-ack, so about once a second one minion (whoever takes
 * the `<stream>:trim` token first: SET NX PX 1000) trims the stream below
 * the oldest entry some group on it still needs: for each group, its
 * oldest pending entry, or when nothing is pending its last delivered one
 * (what lies above was never delivered). Everything below every group's
 * bound was read and acked by every group. The look at the groups and the
 * XTRIM are one script, so no read or ack slips in between; a group whose
 * figures Redis cannot give (lag unknown after an XDEL, an older Redis)
 * stops the trim until it can. Exact MINID trimming: once a second it
 * frees whole radix-tree nodes and cuts into one, and it keeps XLEN the
 * number of entries still needed; `~` would need a LIMIT, and any fixed
 * LIMIT falls behind a fast enough fleet. */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include <event2/event.h>

#include "engine.h"

/* How often a minion offers to trim, and how long the token is held. The
 * token lasts a little less than the period: held for a whole period, a
 * minion's next offer could come a hair early, find its own token and
 * skip, and the fleet's offers could stay in step that way, so that
 * nobody trimmed for a long time. The fleet trims about once a period. */
#define TRIM_PERIOD_MS 1000
#define TRIM_TOKEN_TEXT "900"

/* Script results that are no count of trimmed entries. */
#define TRIM_NOT_MY_TURN (-1)
#define TRIM_NO_GROUP (-2)
#define TRIM_UNKNOWN (-3)

/* KEYS[1] stream, KEYS[2] trim token; ARGV consumer, token ms. Returns
 * how many entries went, or TRIM_*: not this minion's turn, no group (a
 * stream without groups is nobody's queue: left alone), or a group whose
 * figures are unknown (nothing trimmed). Ids are compared as numbers
 * written out, without leading zeros: by length, then as text. */
static const char script_trim[] =
    "if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then\n"
    "  return -1\n"
    "end\n"
    "local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])\n"
    "if type(groups) ~= 'table' or groups.err or #groups == 0 then\n"
    "  return -2\n"
    "end\n"
    "local function below(a, b)\n"
    "  local am, as = string.match(a, '^(%d+)-(%d+)$')\n"
    "  local bm, bs = string.match(b, '^(%d+)-(%d+)$')\n"
    "  if #am ~= #bm then return #am < #bm end\n"
    "  if am ~= bm then return am < bm end\n"
    "  if #as ~= #bs then return #as < #bs end\n"
    "  return as < bs\n"
    "end\n"
    "local min = nil\n"
    "for _, g in ipairs(groups) do\n"
    "  local info = {}\n"
    "  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end\n"
    "  local last = info['last-delivered-id']\n"
    "  if not info['name'] or not last or not info['lag'] or\n"
    "     not string.match(last, '^%d+-%d+$') then\n"
    "    return -3\n"
    "  end\n"
    "  local p = redis.call('XPENDING', KEYS[1], info['name'])\n"
    "  local bound = last\n"
    "  if p[1] > 0 then bound = p[2] end\n"
    "  if not min or below(bound, min) then min = bound end\n"
    "end\n"
    "return redis.call('XTRIM', KEYS[1], 'MINID', '=', min)\n";

static void on_trim(redisAsyncContext *ac, void *rep, void *priv)
{
    struct redis_engine *r = priv;
    const redisReply *reply = rep;

    r->trim_busy = 0;
    if (!rconn_reply_usable(ac, reply) || r->dying) {
        return;
    }
    if (reply->type != REDIS_REPLY_INTEGER) {
        minion_log(r->inst, MINION_LOG_WARN, "trimming %s: %s", r->keys.stream,
                   reply->type == REDIS_REPLY_ERROR ? reply->str
                                                    : "unexpected reply");
        return;
    }
    if (reply->integer == TRIM_UNKNOWN && !r->trim_said_unknown) {
        r->trim_said_unknown = 1;
        minion_log(r->inst, MINION_LOG_INFO,
                   "not trimming %s while a group's lag is unknown (an XDEL "
                   "of an entry it has not read, or Redis older than 7.0)",
                   r->keys.stream);
    } else if (reply->integer >= 0) {
        r->trim_said_unknown = 0;
        if (reply->integer > 0) {
            minion_log(r->inst, MINION_LOG_DEBUG,
                       "trimmed %lld acked entries from %s", reply->integer,
                       r->keys.stream);
        }
    }
}

static void on_trim_tick(evutil_socket_t fd, short what, void *arg)
{
    struct redis_engine *r = arg;
    const char *argv[] = {"EVAL",         script_trim,  "2",
                          r->keys.stream, r->keys.trim, r->me,
                          TRIM_TOKEN_TEXT};

    if (r->trim_busy || r->paused || r->dying ||
        !rconn_is_ready(r->writer_conn)) {
        return;
    }
    if (rconn_send(r->writer_conn, on_trim, r, 7, argv, NULL) == 0) {
        r->trim_busy = 1;
    }
}

int trim_start(struct redis_engine *r)
{
    struct timeval every = {TRIM_PERIOD_MS / 1000,
                            (TRIM_PERIOD_MS % 1000) * 1000};

    if (!r->conf->trim || r->ctx->dry_run) {
        return 0;
    }
    r->trim_ev = event_new(r->base, -1, EV_PERSIST, on_trim_tick, r);
    if (!r->trim_ev) {
        return -ENOMEM;
    }
    evtimer_add(r->trim_ev, &every);
    return 0;
}

void trim_stop(struct redis_engine *r)
{
    if (r->trim_ev) {
        evtimer_del(r->trim_ev);
    }
}

void trim_fini(struct redis_engine *r)
{
    if (r->trim_ev) {
        event_free(r->trim_ev);
        r->trim_ev = NULL;
    }
}
