"""SQLAlchemy models, one module per aggregate."""

from .alert import Alert, AlertOrder, AlertRule
from .api_key import ApiKey
from .approval import ApprovalAction, ApprovalLink, ApprovalReader, ApprovalTask
from .backtest import BacktestChange, BacktestJob
from .base import Base, JSONType, UTCDateTime, table_of, utcnow
from .channel import (
    Channel,
    ChannelDelivery,
    ChannelPull,
    IntakeRule,
    OrderDedupKey,
    WebhookReceipt,
)
from .chat import ChatApp, ChatCard, ChatReceipt
from .cost import CostDimension, CostDriver, OrderCost, OrderDimension
from .flow import Flow, FlowVersion
from .inventory import InventoryItem, Reservation
from .metrics import (
    CostHourly,
    DeliveryHourly,
    DurationDaily,
    DurationHourly,
    EdgeDaily,
    EdgeHourly,
    LookupHourly,
    MetricCursor,
    NodeDaily,
    NodeHourly,
    NodeVisit,
    OrderFact,
    OrderHourly,
    StatusLagFact,
    StockoutFact,
)
from .notification import Notification, NotificationChannel, NotificationTemplate
from .order import Order, OrderFieldChange
from .org import BusinessRole, Department, OrgRevision, RoleHolder
from .outbox import OutboxMessage
from .reference import ReferenceRow, ReferenceTable
from .run import Run, RunEvent, RunTimer, TriggerReceipt
from .settings import AllowedHost, CustomField
from .shipment import Shipment, ShipmentOrder
from .status import StatusEvent, StatusSource
from .subscription import Subscription
from .template import TemplateImport, TemplateItem
from .user import Role, User, user_roles

__all__ = [
    "BacktestChange",
    "BacktestJob",
    "Alert",
    "AlertOrder",
    "AlertRule",
    "AllowedHost",
    "ApiKey",
    "ApprovalAction",
    "ApprovalLink",
    "ApprovalReader",
    "ApprovalTask",
    "Base",
    "BusinessRole",
    "Channel",
    "ChatApp",
    "ChatCard",
    "ChatReceipt",
    "ChannelDelivery",
    "ChannelPull",
    "CostDimension",
    "CostDriver",
    "CostHourly",
    "CustomField",
    "DeliveryHourly",
    "Department",
    "DurationDaily",
    "DurationHourly",
    "EdgeDaily",
    "EdgeHourly",
    "Flow",
    "FlowVersion",
    "IntakeRule",
    "InventoryItem",
    "JSONType",
    "LookupHourly",
    "MetricCursor",
    "NodeDaily",
    "NodeHourly",
    "NodeVisit",
    "Notification",
    "NotificationChannel",
    "NotificationTemplate",
    "Order",
    "OrderCost",
    "OrderDedupKey",
    "OrderDimension",
    "OrderFact",
    "OrderFieldChange",
    "OrderHourly",
    "OrgRevision",
    "OutboxMessage",
    "ReferenceRow",
    "ReferenceTable",
    "Reservation",
    "Role",
    "RoleHolder",
    "Run",
    "RunEvent",
    "RunTimer",
    "Shipment",
    "ShipmentOrder",
    "StatusEvent",
    "StatusLagFact",
    "StatusSource",
    "StockoutFact",
    "Subscription",
    "TemplateImport",
    "TemplateItem",
    "TriggerReceipt",
    "UTCDateTime",
    "User",
    "WebhookReceipt",
    "user_roles",
    "table_of",
    "utcnow",
]
