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
 * does. Returns {next cursor, rows, ids deleted while pending}. */
const char script_claim[] =
    "local s, g, me = KEYS[1], ARGV[1], ARGV[2]\n"
    "local r = redis.call('XAUTOCLAIM', s, g, me, ARGV[3], ARGV[4], "
    "'COUNT', ARGV[5])\n"
    "local rows = {}\n"
    "for _, e in ipairs(r[2]) do\n"
    "  local p = redis.call('XPENDING', s, g, e[1], e[1], 1)[1]\n"
    "  if p and e[2] then\n"
    "    rows[#rows + 1] = {e[1], 3, p[4], e[2]}\n"
    "  else\n"
    "    rows[#rows + 1] = {e[1], 2, p and p[4] or 0, ''}\n"
    "  end\n"
    "end\n"
    "return {r[1], rows, r[3] or {}}\n";

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
    "redis.call('XADD', KEYS[2], '*', 'param', ARGV[3], 'task', ARGV[2], "
    "'error', ARGV[4], 'attempts', ARGV[5])\n"
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])\n"
    "return 1\n";
