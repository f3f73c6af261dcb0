"""The unified order status model fed by ERP, WMS, TMS and carrier events."""
