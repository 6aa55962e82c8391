/* SPDX-License-Identifier: MIT */
/* The engine's Lua scripts. Each one does in a single step what must not
 * interleave with another minion: looking at who owns a pending entry and
 * then claiming it, or copying an entry to the dead letters and acking it.
 * Rows of take and claim: {id, status, delivery count, fields or owner},
 * status as enum take_status in entry.h. */
#include "config.h"

#include "engine.h"

/* KEYS[1] stream; ARGV group, consumer, "ids", id...: take these pending
 * entries (back) for a run: failed params for another attempt, a restarted
 * minion's own history. XCLAIM without JUSTID adds one to the delivery
 * count, like a new delivery, and drops an entry that was deleted from the
 * stream meanwhile (status 2). Never takes one from another consumer. */
const char script_take[] =
    "local s, g, me = KEYS[1], ARGV[1], ARGV[2]\n"
    "local out = {}\n"
    "for i = 4, #ARGV do\n"
    "  local id = ARGV[i]\n"
    "  local p = redis.call('XPENDING', s, g, id, id, 1)[1]\n"
    "  if not p then\n"
    "    out[#out + 1] = {id, 0, 0, ''}\n"
    "  elseif p[2] ~= me then\n"
    "    out[#out + 1] = {id, 1, p[4], p[2]}\n"
    "  else\n"
    "    local c = redis.call('XCLAIM', s, g, me, 0, id)[1]\n"
    "    if not c or not c[2] then\n"
    "      out[#out + 1] = {id, 2, p[4], ''}\n"
    "    else\n"
    "      out[#out + 1] = {id, 3, p[4] + 1, c[2]}\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS[1] stream; ARGV group, consumer, min-idle-ms, cursor, count.
 * XAUTOCLAIM does not say how often an entry was delivered: XPENDING
 * does. XAUTOCLAIM also drops the records of entries deleted from the
 * stream, idle or not, and says only their ids: their counts come from an
 * XPENDING of the records it may scan (COUNT x 10), taken before. Returns
 * {next cursor, rows}; a deleted entry is a row of status 2. */
const char script_claim[] =
    "local s, g, me = KEYS[1], ARGV[1], ARGV[2]\n"
    "local before = {}\n"
    "for _, p in ipairs(redis.call('XPENDING', s, g, ARGV[4], '+', "
    "tonumber(ARGV[5]) * 10)) do\n"
    "  before[p[1]] = p[4]\n"
    "end\n"
    "local r = redis.call('XAUTOCLAIM', s, g, me, ARGV[3], ARGV[4], "
    "'COUNT', ARGV[5])\n"
    "local rows = {}\n"
    "for _, e in ipairs(r[2]) do\n"
    "  local p = redis.call('XPENDING', s, g, e[1], e[1], 1)[1]\n"
    "  if p and e[2] then\n"
    "    rows[#rows + 1] = {e[1], 3, p[4], e[2]}\n"
    "  else\n"
    "    rows[#rows + 1] = {e[1], 2, p and p[4] or before[e[1]] or 1, ''}\n"
    "  end\n"
    "end\n"
    "for _, id in ipairs(r[3] or {}) do\n"
    "  rows[#rows + 1] = {id, 2, before[id] or 1, ''}\n"
    "end\n"
    "return {r[1], rows}\n";

/* KEYS[1] stream; ARGV group, consumer, id... Resets the idle time of the
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

/* KEYS[1] stream, KEYS[2] dead-letter stream; ARGV group, id, param,
 * error, attempts, force. Copies then acks, so a failed copy leaves the
 * entry pending; skipped when the entry is no longer pending (sent twice
 * across a reconnect, or acked elsewhere) unless force (an entry already
 * dropped from the pending list because it was deleted). */
const char script_dead[] =
    "local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], "
    "1)[1]\n"
    "if not p and ARGV[6] ~= '1' then return 0 end\n"
    "redis.call('XADD', KEYS[2], '*', '" STREAMS_FIELD_PARAM
    "', ARGV[3], '" STREAMS_FIELD_TASK "', ARGV[2], '" STREAMS_FIELD_ERROR
    "', ARGV[4], '" STREAMS_FIELD_ATTEMPTS "', ARGV[5])\n"
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])\n"
    "return 1\n";

/* Server time in epoch milliseconds, as a string: every heartbeat is on
 * Redis's clock, so minions on hosts whose clocks disagree compare them
 * safely. */
#define LUA_NOW_MS                                                             \
    "local t = redis.call('TIME')\n"                                           \
    "local now = t[1] .. string.format('%03d', math.floor(t[2] / 1000))\n"

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
    argv[2] = "1";
    argv[3] = r->keys.stream;
    argv[4] = r->group;
    argv[5] = r->me;
}
