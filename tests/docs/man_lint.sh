#!/bin/sh
# SPDX-License-Identifier: MIT
# Every manual page in docs/man passes `mandoc -T lint -W warning` with not a
# single message. Without mandoc: SKIP (77) for a user, a failure under CI.
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"

if ! command -v mandoc >/dev/null 2>&1; then
    if [ "${CI:-}" = true ]; then
        echo "FAIL (CI forbids skipping): no mandoc; install the Debian" \
            "package mandoc" >&2
        exit 1
    fi
    echo "SKIP: no mandoc to lint the manual pages (Debian package mandoc)" >&2
    exit 77
fi

status=0
pages=0
for page in "$top_srcdir"/docs/man/*.[1-9]; do
    [ -f "$page" ] || continue
    pages=$((pages + 1))
    out=$(mandoc -T lint -W warning "$page" 2>&1)
    rc=$?
    if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
        echo "FAIL: $page (mandoc exit status $rc):" >&2
        printf '%s\n' "$out" >&2
        status=1
    fi
done
if [ "$pages" -lt 4 ]; then
    echo "FAIL: $pages manual pages in $top_srcdir/docs/man, expected 4" >&2
    exit 1
fi
[ "$status" -eq 0 ] && echo "ok: $pages manual pages lint clean"
exit "$status"
