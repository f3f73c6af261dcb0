"""The operations dashboard: KPI panels, before/after a publish, and flow bottlenecks."""
