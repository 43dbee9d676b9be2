# The first start makes the cluster (the superuser POSTGRES_USER with POSTGRES_PASSWORD, password
# logins over TCP) and runs /docker-entrypoint-initdb.d/*.sql on a socket-only server; every start
# then runs the command (postgres, with PGDATA from the environment).
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
  user=${POSTGRES_USER:-postgres}
  secret=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" >"$secret"
  initdb -D "$PGDATA" -U "$user" --pwfile="$secret" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$secret"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  socket=$(mktemp -d)
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k $socket" -w start >/dev/null
  for script in /docker-entrypoint-initdb.d/*.sql; do
    [ -e "$script" ] || continue
    echo "postgres-standin: running $script"
    psql -v ON_ERROR_STOP=1 -q -h "$socket" -U "$user" -d postgres -f "$script"
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "postgres-standin: cluster made in $PGDATA"
fi
exec "$@"
