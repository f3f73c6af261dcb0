"""The business calendar that business-time SLAs count on, and its admin page."""
