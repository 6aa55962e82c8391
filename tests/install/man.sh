#!/bin/sh
# SPDX-License-Identifier: MIT
# make installcheck: the installed manual pages are where man(1) looks, and
# man shows each of them from the installed prefix alone. Needs mandir (or
# prefix). Without man: skipped with a message for a user, a failure under CI.
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

: "${mandir:=${prefix:?set mandir or prefix}/share/man}"

# page, then a phrase of its NAME line (short, at the start of the line, so
# that no hyphenation or wrapping can split it).
set -- \
    man1/minionize.1 "run a program or a C function" \
    man1/minion-submit.1 "put params into a minionize queue" \
    man1/minion-status.1 "what minionize minions did and do" \
    man7/minionize-plugin.7 "write engines, callbacks, reporters"

check() {
    file=$1
    phrase=$2
    [ -f "$mandir/$file" ] || fail "$file is not installed in $mandir"
    $show || return 0
    name=${file#man?/}
    name=${name%.?}
    out=$(MANWIDTH=80 MANPAGER=cat PAGER=cat man -M "$mandir" -P cat "$name" \
        2>&1) || fail "man -M $mandir $name: $out"
    # Whatever bold or underline a formatter kept, as backspace overstrikes.
    out=$(printf '%s\n' "$out" | sed 's/.\x08//g')
    printf '%s\n' "$out" | grep -q "$phrase" ||
        fail "man -M $mandir $name does not show its page: $(printf '%s\n' \
            "$out" | head -n 5)"
}

show=true
if ! command -v man >/dev/null 2>&1; then
    [ "${CI:-}" = true ] &&
        fail "no man to show the pages (CI forbids skipping; Debian package man-db)"
    echo "skipped: no man to show the installed pages (Debian package man-db)"
    show=false
fi
while [ $# -ge 2 ]; do
    check "$1" "$2"
    shift 2
done
if $show; then
    echo "ok: man shows the four installed manual pages"
else
    echo "ok: the four manual pages are installed"
fi
