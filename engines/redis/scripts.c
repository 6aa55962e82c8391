/* SPDX-License-Identifier: MIT */
/* The engine's Lua scripts. Each one does in a single step what must not
 * interleave with another minion: looking at who owns a pending entry and
 * then claiming it, or copying an entry to the dead letters and acking it.
 * Scripts that start with script_head() see KEYS[1] the stream, KEYS[2]
 * the group's released counts, KEYS[3] its delayed set, ARGV[1] the group,
 * ARGV[2] this consumer. Rows of take, claim and due: {id, status,
 * attempts, fields | owner | wait ms, released runs}, status as enum
 * take_status in entry.h. */
#include "config.h"

#include "engine.h"

/* Server time in epoch milliseconds, as a string: every heartbeat is on
 * Redis's clock, so minions on hosts whose clocks disagree compare them
 * safely. */
#define LUA_NOW_MS                                                             \
    "local t = redis.call('TIME')\n"                                           \
    "local now = t[1] .. string.format('%03d', math.floor(t[2] / 1000))\n"

/* Shared by the scripts over KEYS[1] stream, KEYS[2] released counts,
 * KEYS[3] delayed set, ARGV[1] group, ARGV[2] consumer: the released runs
 * of an entry, and the row of an entry this consumer now holds by an
 * XCLAIM that added one to its delivery count (or found it deleted). An
 * attempt is the delivery count less the released runs (README.md). */
#define LUA_ROWS                                                               \
    "local s, rk, dk, g, me = KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2]\n"   \
    "local function released(id)\n"                                            \
    "  return tonumber(redis.call('HGET', rk, id)) or 0\n"                     \
    "end\n"                                                                    \
    "local function counted(n, rel)\n"                                         \
    "  return math.max(n - rel, 0)\n"                                          \
    "end\n"                                                                    \
    "local function claimed(id, count, rel)\n"                                 \
    "  local c = redis.call('XCLAIM', s, g, me, 0, id)[1]\n"                   \
    "  if not c or not c[2] then\n"                                            \
    "    return {id, 2, counted(count, rel), '', rel}\n"                       \
    "  end\n"                                                                  \
    "  return {id, 3, counted(count + 1, rel), c[2], rel}\n"                   \
    "end\n"                                                                    \
    "local function due_in(id)\n"                                              \
    "  local due = tonumber(redis.call('ZSCORE', dk, id))\n"                   \
    "  if due and due > tonumber(now) then return due - tonumber(now) end\n"   \
    "  if due then redis.call('ZREM', dk, id) end\n"                           \
    "  return nil\n"                                                           \
    "end\n"

/* ARGV[3] "ids", then ids: take these pending entries (back) for a run:
 * failed params for another attempt, a restarted minion's own history.
 * XCLAIM without JUSTID adds one to the delivery count, like a new
 * delivery, and drops an entry that was deleted from the stream meanwhile
 * (status 2). Never takes one from another consumer, nor runs one that
 * waits out a retry delay before it is due (status 4: still ours). */
const char script_take[] = LUA_NOW_MS LUA_ROWS
    "local out = {}\n"
    "for i = 4, #ARGV do\n"
    "  local id = ARGV[i]\n"
    "  local p = redis.call('XPENDING', s, g, id, id, 1)[1]\n"
    "  local rel = released(id)\n"
    "  if not p then\n"
    "    out[#out + 1] = {id, 0, 0, '', rel}\n"
    "  elseif p[2] ~= me then\n"
    "    out[#out + 1] = {id, 1, counted(p[4], rel), p[2], rel}\n"
    "  else\n"
    "    local wait = due_in(id)\n"
    "    if wait then\n"
    "      out[#out + 1] = {id, 4, counted(p[4], rel), wait, rel}\n"
    "    else\n"
    "      out[#out + 1] = claimed(id, p[4], rel)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* ARGV[3] min-idle-ms, ARGV[4] cursor, ARGV[5] count. XAUTOCLAIM JUSTID
 * takes the entries of dead minions without counting a delivery; then
 * each one is either still waiting out its retry delay (status 4: held,
 * not run early) or taken for a run by an XCLAIM that counts it. XAUTOCLAIM
 * also drops the records of entries deleted from the stream, idle or not,
 * and says only their ids: their counts come from an XPENDING of the
 * records it may scan (COUNT x 10), taken before. Returns {next cursor,
 * rows}; a deleted entry is a row of status 2. */
const char script_claim[] = LUA_NOW_MS LUA_ROWS
    "local before = {}\n"
    "for _, p in ipairs(redis.call('XPENDING', s, g, ARGV[4], '+', "
    "tonumber(ARGV[5]) * 10)) do\n"
    "  before[p[1]] = p[4]\n"
    "end\n"
    "local r = redis.call('XAUTOCLAIM', s, g, me, ARGV[3], ARGV[4], "
    "'COUNT', ARGV[5], 'JUSTID')\n"
    "local rows = {}\n"
    "for _, id in ipairs(r[2]) do\n"
    "  local rel = released(id)\n"
    "  local p = redis.call('XPENDING', s, g, id, id, 1)[1]\n"
    "  local count = p and p[4] or before[id] or 1\n"
    "  local wait = p and due_in(id)\n"
    "  if wait then\n"
    "    rows[#rows + 1] = {id, 4, counted(count, rel), wait, rel}\n"
    "  elseif p then\n"
    "    rows[#rows + 1] = claimed(id, count, rel)\n"
    "  else\n"
    "    rows[#rows + 1] = {id, 2, counted(count, rel), '', rel}\n"
    "  end\n"
    "end\n"
    "for _, id in ipairs(r[3] or {}) do\n"
    "  local rel = released(id)\n"
    "  rows[#rows + 1] = {id, 2, counted(before[id] or 1, rel), '', rel}\n"
    "end\n"
    "return {r[1], rows}\n";

/* ARGV[3] n. The failed params whose retry delay is over, at most n, by
 * whoever holds them (their holder keeps them fresh while it waits, so
 * only this takes them; min-idle 0). Returns {ms until the next one is
 * due or -1, rows}; rows as script_take's. */
const char script_due[] = LUA_NOW_MS LUA_ROWS
    "local rows = {}\n"
    "local ids = redis.call('ZRANGEBYSCORE', dk, '-inf', now, 'LIMIT', 0, "
    "tonumber(ARGV[3]))\n"
    "for _, id in ipairs(ids) do\n"
    "  redis.call('ZREM', dk, id)\n"
    "  local p = redis.call('XPENDING', s, g, id, id, 1)[1]\n"
    "  local rel = released(id)\n"
    "  if not p then\n"
    "    redis.call('HDEL', rk, id)\n"
    "    rows[#rows + 1] = {id, 0, 0, '', rel}\n"
    "  else\n"
    "    rows[#rows + 1] = claimed(id, p[4], rel)\n"
    "  end\n"
    "end\n"
    "local first = redis.call('ZRANGE', dk, 0, 0, 'WITHSCORES')\n"
    "local next_ms = -1\n"
    "if first[2] then\n"
    "  next_ms = math.max(tonumber(first[2]) - tonumber(now), 0)\n"
    "end\n"
    "return {next_ms, rows}\n";

/* ARGV[3] delay in ms, ARGV[4] id. A failed param this consumer still
 * holds waits out its delay: due at Redis's now + delay. It stays pending
 * here (refreshed), so no claim takes it early while this minion lives.
 * Returns the delay, or -1 when the entry is not ours any more. */
const char script_delay[] = LUA_NOW_MS LUA_ROWS
    "local p = redis.call('XPENDING', s, g, ARGV[4], ARGV[4], 1)[1]\n"
    "if not p or p[2] ~= me then return -1 end\n"
    "redis.call('ZADD', dk, tonumber(now) + tonumber(ARGV[3]), ARGV[4])\n"
    "return tonumber(ARGV[3])\n";

/* ARGV[3] claim idle ms, then ids. Runs given back unfinished (a stop, or
 * fetched and never started): one more released run each, so the next
 * run has the attempt number this one had, and idle as if for the claim
 * idle time, so a live minion's next claim takes it at once (JUSTID: the
 * delivery count stays). Only the ids this consumer still holds. An entry
 * already that idle was released already: this is a resend after a lost
 * reply, and counting it again would hide an attempt. Returns how many. */
const char script_release[] = LUA_ROWS
    "local n = 0\n"
    "for i = 4, #ARGV do\n"
    "  local id = ARGV[i]\n"
    "  local p = redis.call('XPENDING', s, g, id, id, 1)[1]\n"
    "  if p and p[2] == me then\n"
    "    if p[3] < tonumber(ARGV[3]) then\n"
    "      redis.call('HINCRBY', rk, id, 1)\n"
    "    end\n"
    "    redis.call('XCLAIM', s, g, me, 0, id, 'IDLE', ARGV[3], 'JUSTID')\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

/* ARGV[3] id. The ack of an entry that had released runs: its count goes
 * with it (other acks leave the hash alone). */
const char script_ack_released[] =
    "local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])\n"
    "redis.call('HDEL', KEYS[2], ARGV[3])\n"
    "return n\n";

/* ARGV[3...] ids. Resets the idle time of the
 * ids this consumer still owns (JUSTID: the delivery count stays), and
 * never takes one back from a minion that claimed it meanwhile. Returns
 * {id, owner or '', ...} for the ids that are not ours any more. */
const char script_refresh[] =
    "local s, g, me = KEYS[1], ARGV[1], ARGV[2]\n"
    "local mine, lost = {}, {}\n"
    "for i = 3, #ARGV do\n"
    "  local p = redis.call('XPENDING', s, g, ARGV[i], ARGV[i], 1)[1]\n"
    "  if p and p[2] == me then\n"
    "    mine[#mine + 1] = ARGV[i]\n"
    "  else\n"
    "    lost[#lost + 1] = ARGV[i]\n"
    "    lost[#lost + 1] = p and p[2] or ''\n"
    "  end\n"
    "end\n"
    "if #mine > 0 then\n"
    "  mine[#mine + 1] = 'JUSTID'\n"
    "  redis.call('XCLAIM', s, g, me, 0, unpack(mine))\n"
    "end\n"
    "return lost\n";

/* KEYS[1] stream, KEYS[2] dead-letter stream, KEYS[3] released counts,
 * KEYS[4] delayed set; ARGV group, id, param, error, attempts, force.
 * Copies then acks, so a failed copy leaves the entry pending; skipped
 * when the entry is no longer pending (sent twice across a reconnect, or
 * acked elsewhere) unless force (an entry already dropped from the pending
 * list because it was deleted). Its released runs and delay go with it. */
const char script_dead[] =
    "local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], "
    "1)[1]\n"
    "if not p and ARGV[6] ~= '1' then return 0 end\n"
    "redis.call('XADD', KEYS[2], '*', '" STREAMS_FIELD_PARAM
    "', ARGV[3], '" STREAMS_FIELD_TASK "', ARGV[2], '" STREAMS_FIELD_ERROR
    "', ARGV[4], '" STREAMS_FIELD_ATTEMPTS "', ARGV[5])\n"
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])\n"
    "redis.call('HDEL', KEYS[3], ARGV[2])\n"
    "redis.call('ZREM', KEYS[4], ARGV[2])\n"
    "return 1\n";

/* KEYS[1] heartbeat hash, KEYS[2] this minion's stats hash; ARGV consumer,
 * milliseconds after which a heartbeat is stale, stats TTL (ms). The
 * start-up check: refuses (returns the age in ms of the live heartbeat)
 * when another minion of this name beat within the bound and did not say
 * it stopped; else takes the name (beat, state running) and returns -1, in
 * one step so that two minions starting at once cannot both pass. */
const char script_enlist[] = LUA_NOW_MS
    "local beat = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))\n"
    "if beat and tonumber(now) - beat < tonumber(ARGV[2]) and "
    "redis.call('HGET', KEYS[2], '" STREAMS_FIELD_STATE "') ~= 'stopped' then\n"
    "  return math.max(tonumber(now) - beat, 0)\n"
    "end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], now)\n"
    "redis.call('HSET', KEYS[2], '" STREAMS_FIELD_LAST_SEEN
    "', now, '" STREAMS_FIELD_STATE "', 'running')\n"
    "redis.call('PEXPIRE', KEYS[2], ARGV[3])\n"
    "return -1\n";

/* KEYS[1] heartbeat hash, KEYS[2] this minion's stats hash; ARGV consumer,
 * stats TTL (ms), then field, value... of the stats. The heartbeat. */
const char script_beat[] = LUA_NOW_MS
    "redis.call('HSET', KEYS[1], ARGV[1], now)\n"
    "redis.call('HSET', KEYS[2], '" STREAMS_FIELD_LAST_SEEN "', now, "
    "unpack(ARGV, 3))\n"
    "redis.call('PEXPIRE', KEYS[2], ARGV[2])\n"
    "return 1\n";

/* KEYS[1] stream, KEYS[2] heartbeat hash; ARGV group, consumer, stale ms,
 * HSCAN cursor, HSCAN count. One bounded pass of the dead-consumer sweep
 * over the heartbeat hash: a consumer whose beat is older than the bound
 * and that holds nothing loses its consumer and its beat. The check and
 * the delete are one step, so a consumer cannot read between them (its
 * entries would be dropped with it). Consumers without a beat are not
 * seen: minionize cannot tell whether they are alive. Returns {next
 * cursor, names removed}. */
const char script_sweep[] = LUA_NOW_MS
    "local s, h, g, me = KEYS[1], KEYS[2], ARGV[1], ARGV[2]\n"
    "local r = redis.call('HSCAN', h, ARGV[4], 'COUNT', ARGV[5])\n"
    "local gone = {}\n"
    "for i = 1, #r[2], 2 do\n"
    "  local name, beat = r[2][i], tonumber(r[2][i + 1])\n"
    "  if name ~= me and beat and tonumber(now) - beat > "
    "tonumber(ARGV[3]) then\n"
    "    local p = redis.pcall('XPENDING', s, g, '-', '+', 1, name)\n"
    "    if type(p) == 'table' and not p.err and #p == 0 then\n"
    "      redis.call('XGROUP', 'DELCONSUMER', s, g, name)\n"
    "      redis.call('HDEL', h, name)\n"
    "      gone[#gone + 1] = name\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return {r[1], gone}\n";

void script_head(const struct redis_engine *r, const char *script,
                 const char **argv)
{
    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = "3";
    argv[3] = r->keys.stream;
    argv[4] = r->released_key;
    argv[5] = r->delayed_key;
    argv[6] = r->group;
    argv[7] = r->me;
}
