"""Shipments decided by flows: merge groups and warehouse allocations."""
