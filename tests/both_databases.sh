#!/usr/bin/env bash
# make test's passes, side by side: the suite on SQLite always, and on PostgreSQL too when
# XIAOER_TEST_POSTGRES_URL is set. A pass spends most of its time waiting (consumer groups joining,
# events arriving, the browser, a fault's outage running its course), so on CI's two cores they run
# at once in three lanes:
#   1. SQLite, all but the fault tests;
#   2. PostgreSQL, all but the fault tests;
#   3. the fault tests (-m faults: outages, kills and restarts that take real time), on SQLite and
#      then on PostgreSQL.
# Each lane keeps its own broker, databases and ports; a line says when each ends, and then its
# output is printed whole, one after the other. Extra arguments go to every pytest: a path or -k
# that leaves a lane empty is fine (pytest's exit code 5), but selecting nothing in every lane
# fails. A -m of your own replaces the lanes' split (pytest keeps the last -m): run pytest itself.
# Ctrl-C stops every lane, each tearing its fixtures down (brokers, services, test databases).
set -u
cd "$(dirname "$0")/.."
pytest=.venv/bin/pytest
logs=$(mktemp -d)
set -m  # each lane in its own process group, with Ctrl-C's default meaning: stopped below, as a whole
lanes=()
interrupted() {  # Ctrl-C: every lane stopped as a whole, left to tear down, and what each printed shown
  for lane in "${lanes[@]}"; do kill -INT -- "-$lane" 2>/dev/null; done
  wait
  cat "$logs"/sqlite "$logs"/postgres "$logs"/faults 2>/dev/null
  exit 130
}
trap interrupted INT TERM
trap 'rm -rf "$logs"' EXIT

run() {  # run LOG DATABASE MARKER ARGS...: pytest's exit code, and the lane's name in LOG.selected if any ran
  local log=$1 database=$2 marker=$3
  shift 3
  XIAOER_TEST_DATABASE=$database "$pytest" -p no:cacheprovider -m "$marker" "$@" >> "$log" 2>&1
  local status=$?
  if [ "$status" -eq 5 ]; then return 0; fi
  echo "$database $marker" >> "$logs/selected"
  return "$status"
}

faults_lane() {
  local status=0
  echo "--- the fault tests on SQLite" >> "$logs/faults"
  run "$logs/faults" sqlite faults "$@" || status=$?
  if [ -n "${XIAOER_TEST_POSTGRES_URL:-}" ]; then
    echo "--- the fault tests on PostgreSQL ($XIAOER_TEST_POSTGRES_URL)" >> "$logs/faults"
    run "$logs/faults" postgres faults "$@"
    local postgres_status=$?
    [ "$status" -ne 0 ] || status=$postgres_status  # the first lane's failure, with its own code
  fi
  echo "... the fault tests' lane ended (exit $status)"
  return "$status"
}

postgres_lane() {
  run "$logs/postgres" postgres "not faults" "$@"
  local status=$?
  echo "... the PostgreSQL lane ended (exit $status)"
  return "$status"
}

faults_lane "$@" &
faults_pid=$!
lanes+=("$faults_pid")
if [ -n "${XIAOER_TEST_POSTGRES_URL:-}" ]; then
  postgres_lane "$@" &
  postgres_pid=$!
  lanes+=("$postgres_pid")
fi
run "$logs/sqlite" sqlite "not faults" "$@" &
sqlite_pid=$!
lanes+=("$sqlite_pid")
echo "lanes running: SQLite${postgres_pid:+, PostgreSQL}, the fault tests; their output follows when all end"

wait "$sqlite_pid"
sqlite_status=$?
echo "... the SQLite lane ended (exit $sqlite_status)"
postgres_status=0
postgres_shown="not run (XIAOER_TEST_POSTGRES_URL is not set)"
if [ -n "${postgres_pid:-}" ]; then
  wait "$postgres_pid"
  postgres_status=$?
  postgres_shown="exit $postgres_status"
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

echo "--- SQLite: exit $sqlite_status; PostgreSQL: $postgres_shown; the fault tests: exit $faults_status"
if [ ! -s "$logs/selected" ]; then
  echo "no lane selected a test: check the arguments"
  exit 5
fi
[ "$sqlite_status" -eq 0 ] && [ "$postgres_status" -eq 0 ] && [ "$faults_status" -eq 0 ]
