#!/usr/bin/env bash
# make test's two passes side by side: SQLite always, PostgreSQL too when XIAOER_TEST_POSTGRES_URL
# is set. A pass spends most of its time waiting (consumer groups joining, events arriving, the
# browser), so on CI's two cores the two at once take little more than the longer one alone. Each
# pass keeps its own broker, databases and ports; its output is printed whole, one after the other.
set -u
cd "$(dirname "$0")/.."
pytest=.venv/bin/pytest
postgres_log=$(mktemp)
trap 'rm -f "$postgres_log"' EXIT

if [ -n "${XIAOER_TEST_POSTGRES_URL:-}" ]; then
  XIAOER_TEST_DATABASE=postgres "$pytest" -p no:cacheprovider "$@" > "$postgres_log" 2>&1 &
  postgres_pid=$!
fi

echo "--- on SQLite"
"$pytest" "$@"
sqlite_status=$?

postgres_status=0
if [ -n "${postgres_pid:-}" ]; then
  wait "$postgres_pid"
  postgres_status=$?
  echo "--- on PostgreSQL ($XIAOER_TEST_POSTGRES_URL)"
  cat "$postgres_log"
fi

echo "--- SQLite: exit $sqlite_status; PostgreSQL: exit $postgres_status"
[ "$sqlite_status" -eq 0 ] && [ "$postgres_status" -eq 0 ]
