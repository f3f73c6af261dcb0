"""Blueprint registration: one package per feature."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from .admin.integrations import bp as integrations_bp
from .admin.status_mappings import bp as status_admin_bp
from .admin.subscriptions import bp as subscriptions_admin_bp
from .admin.views import bp as admin_bp
from .alerts.views import bp as alerts_bp
from .api.views import bp as api_bp
from .approvals.views import bp as approvals_bp
from .auth.views import bp as auth_bp
from .bundles import receiver as demo_receiver
from .bundles.views import bp as bundles_bp
from .calendar.views import bp as calendar_bp
from .chatapps.views import bp as chatapps_bp
from .chatapps.views import hooks_bp as chat_hooks_bp
from .dashboard.costs import bp as costs_bp
from .dashboard.views import bp as dashboard_bp
from .editor.api import bp as editor_api_bp
from .editor.views import bp as editor_bp
from .health.views import bp as health_bp
from .main.views import bp as main_bp
from .metrics.views import bp as metrics_bp
from .notifications.views import bp as notifications_bp
from .orders.views import bp as orders_bp
from .org.views import bp as org_bp
from .tracking.views import bp as tracking_bp
from .urls import IdConverter


def init_app(app: Flask, csrf: CSRFProtect) -> None:

    app.url_map.converters["id"] = IdConverter  # before the routes that use it
    # The API authenticates every call with an API key, not a session cookie, so a
    # cross-site form cannot ride on it and CSRF tokens do not apply.
    csrf.exempt(api_bp)
    for bp in (auth_bp, main_bp, admin_bp, api_bp, health_bp):
        app.register_blueprint(bp)
    for bp in (orders_bp, tracking_bp, integrations_bp, status_admin_bp, subscriptions_admin_bp):
        app.register_blueprint(bp)
    for bp in (editor_bp, editor_api_bp):
        app.register_blueprint(bp)
    for bp in (approvals_bp, notifications_bp, calendar_bp, org_bp):
        app.register_blueprint(bp)
    app.register_blueprint(bundles_bp)
    demo_receiver.init_app(app, csrf)
    # Chat platforms call back without a session: each call carries the platform's signature.
    csrf.exempt(chat_hooks_bp)
    for bp in (chatapps_bp, chat_hooks_bp):
        app.register_blueprint(bp)
    for bp in (dashboard_bp, alerts_bp, costs_bp, metrics_bp):
        app.register_blueprint(bp)
