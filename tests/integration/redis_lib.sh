# SPDX-License-Identifier: MIT
# Helpers of the redis engine's integration tests. Source after lib.sh and
# t_start_redis. Streams are read through small Lua scripts so that values
# with newlines (a task's output) cannot break the line-based checks.

R_STREAM=minionize
R_GROUP=minions

# r_submit N [PREFIX]: add N entries `param PREFIX1..PREFIXN`, one pipe.
r_submit() {
    awk -v n="$1" -v p="${2:-p}" -v s="$R_STREAM" 'BEGIN {
        for (i = 1; i <= n; i++) {
            v = p i
            printf "*5\r\n$4\r\nXADD\r\n$%d\r\n%s\r\n$1\r\n*\r\n", length(s), s
            printf "$5\r\nparam\r\n$%d\r\n%s\r\n", length(v), v
        }
    }' | rcli --pipe >/dev/null || t_fail "redis-cli --pipe failed"
}

# r_ids: the ids of the param stream, one a line.
r_ids() {
    rcli EVAL "local o = {}
        for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
            o[#o + 1] = e[1]
        end
        return o" 1 "$R_STREAM"
}

# r_stream_lines STREAM FIELD...: per entry, the named fields joined by
# spaces (missing ones as "-"), one entry a line.
r_stream_lines() {
    local key=$1
    shift
    rcli EVAL "local o = {}
        for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
            local m, l = {}, {}
            for i = 1, #e[2], 2 do m[e[2][i]] = e[2][i + 1] end
            for _, f in ipairs(ARGV) do
                local v = m[f] or '-'
                if v == '' then v = '-' end
                l[#l + 1] = (string.gsub(v, '%s', '_'))
            end
            o[#o + 1] = table.concat(l, ' ')
        end
        return o" 1 "$key" "$@"
}

# r_results FIELD...: the results stream's entries (default fields: task
# status attempt minion).
r_results() {
    if [ $# -eq 0 ]; then
        set -- task status attempt minion
    fi
    r_stream_lines "$R_STREAM:results" "$@"
}

# r_ok_counts STREAM: of the results stream STREAM, how many distinct tasks
# ended ok and how many ok results repeat a task: "DISTINCT REPEATS".
r_ok_counts() {
    rcli EVAL "local seen, n, twice = {}, 0, 0
        for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
            local task, ok = nil, false
            for i = 1, #e[2], 2 do
                if e[2][i] == 'task' then task = e[2][i + 1] end
                if e[2][i] == 'status' and e[2][i + 1] == 'ok' then ok = true end
            end
            if ok and task then
                if seen[task] then twice = twice + 1
                else seen[task] = true; n = n + 1 end
            end
        end
        return {n, twice}" 1 "$1" | paste -sd' '
}

# r_pending: the group's pending total.
r_pending() {
    rcli XPENDING "$R_STREAM" "$R_GROUP" | head -n 1
}

# r_pending_of CONSUMER: how many entries CONSUMER holds.
r_pending_of() {
    rcli XPENDING "$R_STREAM" "$R_GROUP" - + 100000 "$1" |
        awk 'NR % 4 == 1 && $0 != "" { n++ } END { print n + 0 }'
}

# r_minion NAME [ENV=VALUE...] -- [PROGRAM...]: start a redis minion in the
# background, logs in NAME.out / NAME.err; sets R_PID.
r_minion() {
    local name=$1
    shift
    t_minion "$name" MINION_ENGINE=redis "$@"
    R_PID=$T_MINION
}

# r_wait_exit PID SECONDS: wait for PID, fail after SECONDS; sets R_RC.
r_wait_exit() {
    t_wait_exit "$@"
    R_RC=$T_RC
}
