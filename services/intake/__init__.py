"""intake — the HTTP API that enterprise front ends call. It validates, stores and publishes
requests, and keeps a read model of every work item's progress for the enterprise's timeline."""
