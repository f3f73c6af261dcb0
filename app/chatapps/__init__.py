"""Approving inside chat apps (Feishu, WeCom): connected apps, cards, callbacks."""
