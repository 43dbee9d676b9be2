#!/bin/sh
# Grants (or with --revoke removes) one department unit's Kafka user and ACLs on the compose
# broker: read its inbox dept.<unit>.inbox and its consumer groups dept-<unit>.*, write
# dept.responses, nothing else (deny by default). Run where the kafka container is:
#   deploy/kafka/unit-acls.sh 440112.tax '<Kafka password from xiaoer units credentials>'
#   deploy/kafka/unit-acls.sh --revoke 440112.tax
# `xiaoer units credentials UNIT` prints the same commands for other brokers.
set -eu
revoke=
if [ "${1:-}" = "--revoke" ]; then revoke=1; shift; fi
unit=${1:?unit code, e.g. 440112.tax}
user="dept-$unit"
# The LOCAL listener (127.0.0.1:9095) exists only inside the kafka container.
kafka() { cmd=$1; shift; docker compose exec -T kafka "/opt/kafka/bin/$cmd" --bootstrap-server 127.0.0.1:9095 "$@"; }
if [ -n "$revoke" ]; then
  kafka kafka-configs.sh --alter --entity-type users --entity-name "$user" --delete-config SCRAM-SHA-512
  kafka kafka-acls.sh --remove --force --principal "User:$user" --topic "dept.$unit.inbox"
  kafka kafka-acls.sh --remove --force --principal "User:$user" --group "$user." --resource-pattern-type prefixed
  kafka kafka-acls.sh --remove --force --principal "User:$user" --topic dept.responses
  exit 0
fi
password=${2:?the Kafka password of the unit}
kafka kafka-configs.sh --alter --entity-type users --entity-name "$user" --add-config "SCRAM-SHA-512=[password=$password]"
kafka kafka-acls.sh --add --allow-principal "User:$user" --operation Read --operation Describe --topic "dept.$unit.inbox"
kafka kafka-acls.sh --add --allow-principal "User:$user" --operation Read --group "$user." --resource-pattern-type prefixed
kafka kafka-acls.sh --add --allow-principal "User:$user" --operation Write --operation Describe --topic dept.responses
