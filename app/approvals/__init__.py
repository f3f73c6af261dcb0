"""Approvals: the approver inbox and decisions, delegation and out of office."""
