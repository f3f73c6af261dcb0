"""The public tracking page: where is my order, no login."""
