"""Threshold alerts: rules as data, evaluated on schedule and on events, and the inbox."""
