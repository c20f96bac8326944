# shellcheck shell=bash
# Sourced by the set-up scripts (bootstrap.sh, build_bundles.sh, prepare.sh): numbered
# progress lines, one log file per step, and a failure report that names the step, the
# command, the tail of its output and what to try. Never a silent exit (docs/testbed.md).
#
#   steps_init bootstrap 6 "$cache/logs"   prefix for messages, number of stages, log dir
#   stage "kube-apiserver"                  start stage 3 (prints nothing by itself)
#   note "cached"                           "bootstrap: [3/6] kube-apiserver: cached"
#   step "compiling kube-apiserver" --in DIR --fix "what to try" -- make WHAT=...
#   fail "what went wrong" "what to try"    report and exit 1 (for checks that are not a command)
#
# step runs the command with stdin from /dev/null and its output in
# <log dir>/<step name>.log, prints a heartbeat with the elapsed time every
# $SPIDERNET_HEARTBEAT seconds (default 20) and its last output line, and on failure
# prints the report and exits with the command's status. An ERR trap is the backstop:
# any other failing command under `set -e` is reported with its file, line and text.

steps_prefix=${steps_prefix:-setup}
steps_total=0
steps_n=0
steps_stage=
steps_logdir=

steps_init() {
  steps_prefix=$1 steps_total=$2 steps_logdir=${3:-}
  set -eEuo pipefail
  trap 'steps_unexpected $? "${BASH_SOURCE[0]}" "$LINENO" "$BASH_COMMAND"' ERR
}

say() { echo "$steps_prefix: $*" >&2; }

steps_tag() {
  if [ "$steps_total" -gt 0 ]; then echo "[$steps_n/$steps_total] "; fi
}

# Quiet by itself: the stage's notes and steps carry its number.
stage() {
  steps_n=$((steps_n + 1)) steps_stage=$1
}

note() { say "$(steps_tag)$steps_stage: $*"; }

steps_duration() {
  printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

# fail WHAT FIX [LOG]: the report for a failure that is not (only) a command's status.
fail() {
  say "FAILED at $(steps_tag)$steps_stage: $1"
  if [ -n "${3:-}" ] && [ -s "$3" ]; then
    say "  last 20 lines of $3:"
    tail -n 20 "$3" | sed 's/^/    | /' >&2
  fi
  say "  try: $2"
  exit 1
}

steps_slug() {
  local s=${1,,}
  s=${s//[^a-z0-9]/-}
  echo "$s"
}

# step NAME [--in DIR] [--fix TEXT] -- COMMAND...
step() {
  local name=$1 dir='' fix="read the log above; fix the cause and rerun (finished steps are cached)"
  shift
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case $1 in
      --in) dir=$2 ;;
      --fix) fix=$2 ;;
      *) fail "step '$name' called with unknown option $1 (a bug in the script)" "report it" ;;
    esac
    shift 2
  done
  [ $# -gt 1 ] || fail "step '$name' has no command after -- (a bug in the script)" "report it"
  shift
  local log=/dev/null
  if [ -n "$steps_logdir" ]; then log=$steps_logdir/$(steps_slug "$name").log; fi
  : >"$log"
  say "$(steps_tag)$name ..."
  local start=$SECONDS pid rc=0
  # In the background: with job control (set -m) the command gets its own process
  # group, so an interrupt stops all of it (make and its compilers too); and being
  # outside any `if`, a shell function passed as the command keeps `set -e`.
  set -m
  (
    # A plain command's failure is the step's to report; keep the backstop's line
    # only inside a shell function, where it says which of its commands failed.
    if [ "$(type -t "$1")" != function ]; then trap - ERR; fi
    if [ -n "$dir" ]; then cd "$dir"; fi
    "$@"
  ) >"$log" 2>&1 </dev/null &
  pid=$!
  set +m
  # shellcheck disable=SC2064  # expand $pid and $name now: the trap fires after return
  trap "kill -TERM -- -$pid 2>/dev/null; say 'interrupted during step \"$name\"; rerun to resume'; exit 130" INT TERM HUP
  steps_wait "$pid" "$name" "$start" "$log"
  wait "$pid" || rc=$?
  trap - INT TERM HUP
  if [ "$rc" -eq 0 ]; then
    if [ $((SECONDS - start)) -ge 5 ]; then say "$(steps_tag)$name: done in $(steps_duration $((SECONDS - start)))"; fi
    return 0
  fi
  steps_report "$name" "$rc" "$start" "$dir" "$log" "$fix" "$@"
  exit "$rc"
}

# Wait for the background command, printing a heartbeat with its latest output line.
steps_wait() {
  local pid=$1 name=$2 start=$3 log=$4 beat=${SPIDERNET_HEARTBEAT:-20} last_beat=$SECONDS line polls=0
  while kill -0 "$pid" 2>/dev/null; do
    # Short commands should not wait a whole second: poll fast for the first second.
    if [ "$polls" -lt 10 ]; then sleep 0.1; else sleep 1; fi
    polls=$((polls + 1))
    if [ $((SECONDS - last_beat)) -ge "$beat" ] && kill -0 "$pid" 2>/dev/null; then
      last_beat=$SECONDS
      # Only a progress line: whatever happens reading the log must not stop the step.
      line=$(tail -n 1 "$log" 2>/dev/null | tr -cd '[:print:]' | sed 's/^ *//' | cut -c1-100) || line=
      say "$(steps_tag)$name ... (elapsed $(steps_duration $((SECONDS - start))))${line:+ last output: $line}"
    fi
  done
}

steps_report() {
  local name=$1 rc=$2 start=$3 dir=$4 log=$5 fix=$6
  shift 6
  say "FAILED at $(steps_tag)$name (exit $rc after $(steps_duration $((SECONDS - start))))"
  local shown
  shown=$(printf '%q ' "$@")
  say "  command: ${shown% }${dir:+ (in $dir)}"
  if [ -s "$log" ]; then
    say "  last 20 lines of $log:"
    tail -n 20 "$log" | sed 's/^/    | /' >&2
  else
    say "  (no output)"
  fi
  say "  try: $fix"
}

# The ERR trap: a failure no step foresaw. Inside a subshell (a $(...) or a step's
# command) print one line; the shell that owns it reports in full, or the step does.
steps_unexpected() {
  local rc=$1 file=$2 line=$3 cmd=$4
  if [ "$BASH_SUBSHELL" -gt 0 ]; then
    echo "$steps_prefix: error at $file:$line: $cmd (exit $rc)" >&2
    return 0
  fi
  say "FAILED${steps_stage:+ at $(steps_tag)$steps_stage}: unexpected error at $file line $line"
  say "  command: $cmd (exit $rc)"
  say "  try: this is a bug in the set-up script; rerun, and report the lines above if it persists"
}
