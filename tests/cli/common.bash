# tests/cli/common.bash — what the CLI test scripts share (sourced, not a test: ctest runs the
# *.sh files). The script sets NAME (used in messages and the scratch folder) before sourcing.
#
# It checks SBP_CLI (the spikebp binary, set by ctest) and /usr/bin/python3, makes $WORK
# (removed at exit), and defines the check helpers:
#   pass / fail MSG / check MSG CMD...    count a result
#   run CMD...                            never aborts; sets RC, OUT (stdout), ERR (stderr)
#   expect_rc WANT MSG, contains TEXT NEEDLE MSG
#   json KEY, jexpr EXPR, truthy EXPR     read the JSON object on the last line of OUT
#   same_number A B, greater A B          numeric comparisons of decimal strings
#   finish                                prints "NAME: N passed, M failed"; fails on any failure

if [[ -z "${SBP_CLI:-}" ]]; then
    echo "$NAME: SBP_CLI is not set — it must be the path of the spikebp binary" \
         "(ctest sets it; by hand: SBP_CLI=build/spikebp bash $0)" >&2
    exit 1
fi
if [[ ! -x "$SBP_CLI" ]]; then
    echo "$NAME: SBP_CLI=$SBP_CLI is not an executable file" >&2
    exit 1
fi
PY=/usr/bin/python3
if [[ ! -x $PY ]]; then
    echo "$NAME: $PY (with NumPy) is required to read the JSON output" >&2
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sbp-$NAME-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

n_pass=0
n_fail=0
pass() { n_pass=$((n_pass + 1)); }
fail() {
    n_fail=$((n_fail + 1))
    echo "FAIL: $*" >&2
}
# check DESCRIPTION COMMAND... — one check: passes if COMMAND succeeds.
check() {
    local what=$1
    shift
    if "$@"; then pass; else fail "$what"; fi
}
# run COMMAND... — runs it, never aborting the script; sets RC, OUT (stdout) and ERR (stderr).
run() {
    if "$@" >"$WORK/stdout" 2>"$WORK/stderr"; then RC=0; else RC=$?; fi
    OUT=$(cat "$WORK/stdout")
    ERR=$(cat "$WORK/stderr")
}
# expect_rc WANT DESCRIPTION — checks the last run's exit code, showing its stderr if wrong.
expect_rc() {
    if [[ $RC == "$1" ]]; then
        pass
    else
        fail "$2: exit code $RC, expected $1; stderr: ${ERR:0:400}"
    fi
}
# contains HAYSTACK NEEDLE DESCRIPTION
contains() {
    if [[ $1 == *"$2"* ]]; then
        pass
    else
        fail "$3: output lacks '$2': ${1:0:400}"
    fi
}
# jexpr EXPR — a Python expression over d, the JSON object on the last line of the last stdout.
jexpr() {
    printf '%s\n' "$OUT" | "$PY" -c '
import json, sys
lines = [l for l in sys.stdin.read().splitlines() if l.strip()]
d = json.loads(lines[-1])
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (list, dict)) else v)' "$1" 2>/dev/null || echo "(no json: $1)"
}
# json KEY — the value of KEY in that object.
json() {
    jexpr "d[$(printf '%s' "$1" | "$PY" -c 'import sys; print(repr(sys.stdin.read()))')]"
}
# truthy EXPR — the expression is true for that object.
truthy() {
    [[ $(jexpr "$1") == True ]]
}
# same_number A B — numeric equality of two decimal strings.
same_number() {
    "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) == float(sys.argv[2]) else 1)' \
        "$1" "$2" 2>/dev/null
}
# greater A B — A > B numerically.
greater() {
    "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' \
        "$1" "$2" 2>/dev/null
}
finish() {
    echo "$NAME: $n_pass passed, $n_fail failed"
    [[ $n_fail == 0 ]]
}
