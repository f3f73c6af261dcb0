"""Inbound sales channels: signed webhooks and payload mappings to the canonical order."""
