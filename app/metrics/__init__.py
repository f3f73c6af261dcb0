"""Operational figures: facts and hourly rollups kept up to date from orders, runs and
status events, and their Prometheus exposition."""
