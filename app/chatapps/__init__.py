"""Approving inside chat apps (Feishu first): connected apps, cards, callbacks."""
