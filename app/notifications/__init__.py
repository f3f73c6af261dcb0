"""Notifications: in-app messages, email, WeCom / DingTalk / Feishu robots and SMS, with
admin-editable templates and single-use sign-in links."""
