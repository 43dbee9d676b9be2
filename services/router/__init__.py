"""router — turns a request into work items (工单), one per responsible department unit and
subject entity, publishes each to that unit's own topic, and runs the work-item life cycle."""
