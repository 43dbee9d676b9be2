"""notifier — runs the SLA clocks in Chinese working time, reminds and escalates, notifies
people, and reports each department unit's response and on-time rates."""
