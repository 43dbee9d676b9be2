"""Messaging: events on Kafka, delivered once and in order, each module one seam of it.

Delivery guarantees, end to end:
- A producer never publishes directly from a request handler. State and the event describing it
  are written in one database transaction (``outbox.Outbox``); ``relay.OutboxRelay`` publishes
  afterwards and marks rows sent, so a broker outage delays events but never loses them.
- ``consumer.EventConsumer`` reads topics in a group; ``applying.EventApplier`` records each
  handled ``ce_id`` in the same transaction as the state change it made, and offsets are committed
  only after that transaction, so a redelivered event changes nothing.
- A message that can never be applied (not a CloudEvent, unknown type, bad body, or refused by a
  handler with ``PoisonMessage``) goes to ``<topic>.dlq`` (``dead_letters``) with the error in the
  ``x-error`` header, and the consumer goes on with the next one. Any other failure is transient:
  the consumer keeps its place, backs off and retries the same record, and reports itself stalled.
- One relay per outbox publishes at a time (``leases``), so one key's events keep their order
  with several replicas; topics are created with the configured partitions before use
  (``topics.TopicKeeper``), also after a broker came back empty, and consumers subscribe by pattern.

The modules, in the order a message meets them:

| module | what it holds |
|---|---|
| ``broker`` | where the broker is and how to log in (``BrokerAccess``), producers, ``ping`` |
| ``encoding`` | CloudEvents in Kafka binary mode: ``encode`` → ``OutgoingMessage``, ``decode`` → ``ReceivedEvent`` |
| ``topics`` | creating missing topics with the configured partitions, never by auto-creation |
| ``outbox`` | ``Outbox``: events added to the service's outbox table in the caller's transaction |
| ``leases`` | who may publish an outbox: a PostgreSQL advisory lock or a file lock (database code) |
| ``relay`` | ``OutboxRelay``: outbox rows to Kafka, in id order, by the lease's holder |
| ``applying`` | the apply-once core: handlers run in the transaction that records the event id |
| ``consumer`` | ``EventConsumer``: the poll loop, offsets, back-off, rebalances |
| ``dead_letters`` | writing, reading and replaying ``<topic>.dlq`` |
| ``metrics`` | the Prometheus metrics of all of the above |
"""
