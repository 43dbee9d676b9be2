#!/usr/bin/env bash
# make test's passes, side by side: the suite on SQLite always, and on PostgreSQL too when
# XIAOER_TEST_POSTGRES_URL is set. A pass spends most of its time waiting (consumer groups joining,
# events arriving, the browser, a fault's outage running its course), so on CI's two cores they run
# at once in three lanes:
#   1. SQLite, all but the fault tests;
#   2. PostgreSQL, all but the fault tests;
#   3. the fault tests (-m faults: outages, kills and restarts that take real time), on SQLite and
#      then on PostgreSQL.
# Each lane keeps its own broker, databases and ports; its output is printed whole, one after the
# other. Extra arguments go to every pytest (a lane that then selects no test counts as passed).
set -u
cd "$(dirname "$0")/.."
pytest=.venv/bin/pytest
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# pytest's exit code 5 is "no tests collected": a lane left empty by the arguments passed.
run() {  # run LOG DATABASE MARKER ARGS...
  local log=$1 database=$2 marker=$3
  shift 3
  XIAOER_TEST_DATABASE=$database "$pytest" -p no:cacheprovider -m "$marker" "$@" >> "$log" 2>&1
  local status=$?
  [ "$status" -eq 5 ] && status=0
  return "$status"
}

faults_lane() {
  local status=0
  echo "--- the fault tests on SQLite" >> "$logs/faults"
  run "$logs/faults" sqlite faults "$@" || status=1
  if [ -n "${XIAOER_TEST_POSTGRES_URL:-}" ]; then
    echo "--- the fault tests on PostgreSQL ($XIAOER_TEST_POSTGRES_URL)" >> "$logs/faults"
    run "$logs/faults" postgres faults "$@" || status=1
  fi
  return "$status"
}

faults_lane "$@" &
faults_pid=$!
if [ -n "${XIAOER_TEST_POSTGRES_URL:-}" ]; then
  run "$logs/postgres" postgres "not faults" "$@" &
  postgres_pid=$!
fi
run "$logs/sqlite" sqlite "not faults" "$@"
sqlite_status=$?

postgres_status=0
if [ -n "${postgres_pid:-}" ]; then
  wait "$postgres_pid"
  postgres_status=$?
fi
wait "$faults_pid"
faults_status=$?

echo "--- on SQLite (all but the fault tests)"
cat "$logs/sqlite"
if [ -n "${postgres_pid:-}" ]; then
  echo "--- on PostgreSQL ($XIAOER_TEST_POSTGRES_URL; all but the fault tests)"
  cat "$logs/postgres"
fi
cat "$logs/faults"

echo "--- SQLite: exit $sqlite_status; PostgreSQL: exit $postgres_status; the fault tests: exit $faults_status"
[ "$sqlite_status" -eq 0 ] && [ "$postgres_status" -eq 0 ] && [ "$faults_status" -eq 0 ]
