"""The rollup tables of the benchmark history, computed inside PostgreSQL from its facts.

Hourly rollups are aggregates of the generated facts and run events (histogram bucket of a
duration in SQL, the same buckets as ``app/metrics/histogram.py``); daily ones merge the
hourly rows per local day of the business time zone.
"""

from __future__ import annotations

ZONE = "Asia/Shanghai"  # the business time zone the daily rollups are cut in (the default)
CHANNELS = ["taobao", "tmall", "jd", "douyin", "pinduoduo", "shopify", "b2b"]
BUCKET = "(CASE WHEN {x} <= 0.1 THEN 0 ELSE 1 + floor(8 * ln({x} / 0.1) / ln(2))::int END)"


def _bucket(x: str) -> str:
    return BUCKET.format(x=x)


def hourly(version_id: int, start: str, now: str, hours_in: str) -> str:
    """Every hourly rollup (``start`` and ``now`` are SQL timestamp literals)."""
    return f"""
INSERT INTO rollup_orders_hourly (hour, channel, orders, manual, urgent, costed, cost_total, amount_total)
SELECT {hours_in.format(col="created_at")}, channel, count(*), count(*) FILTER (WHERE manual), count(*) FILTER (WHERE urgent),
       count(cost_total), sum(cost_total), sum(amount)
FROM order_facts GROUP BY 1, 2;
INSERT INTO rollup_deliveries_hourly (hour, channel, delivered, promised, on_time)
SELECT {hours_in.format(col="delivered_at")}, channel, count(*), count(on_time), count(*) FILTER (WHERE on_time)
FROM order_facts WHERE delivered_at IS NOT NULL GROUP BY 1, 2;
INSERT INTO rollup_durations_hourly (metric, hour, channel, count, total, hist)
SELECT 'status_lag', hour, channel, sum(n), sum(total), jsonb_object_agg(b::text, n)
FROM (SELECT {hours_in.format(col="received_at")} AS hour, channel, {_bucket("lag_seconds")} AS b, count(*) AS n, sum(lag_seconds) AS total
      FROM status_lag_facts GROUP BY 1, 2, 3) x GROUP BY hour, channel;
INSERT INTO rollup_durations_hourly (metric, hour, channel, count, total, hist)
SELECT 'approval', hour, channel, sum(n), sum(total), jsonb_object_agg(b::text, n)
FROM (SELECT {hours_in.format(col="left_at")} AS hour, channel, {_bucket("dwell_seconds")} AS b, count(*) AS n, sum(dwell_seconds) AS total
      FROM node_visits WHERE node_type = 'approval' AND exit = 'approved' GROUP BY 1, 2, 3) x GROUP BY hour, channel;
INSERT INTO rollup_nodes_hourly (flow_version_id, node_id, hour, passes, waits, total, hist, branches)
SELECT {version_id}, COALESCE(p.node_id, w.node_id), COALESCE(p.hour, w.hour), COALESCE(p.passes, 0),
       COALESCE(w.waits, 0), COALESCE(w.total, 0), COALESCE(w.hist, '{{}}'::jsonb), COALESCE(p.branches, '{{}}'::jsonb)
FROM (SELECT node_id, hour, sum(n) AS passes, jsonb_object_agg(branch, n) AS branches
      FROM (SELECT node_id, {hours_in.format(col="at")} AS hour, COALESCE(branch, '-') AS branch, count(*) AS n
            FROM run_events WHERE kind = 'node_passed' GROUP BY 1, 2, 3) x GROUP BY 1, 2) p
FULL JOIN (SELECT node_id, hour, sum(n) AS waits, sum(total) AS total, jsonb_object_agg(b::text, n) AS hist
           FROM (SELECT node_id, {hours_in.format(col="left_at")} AS hour, {_bucket("dwell_seconds")} AS b,
                        count(*) AS n, sum(dwell_seconds) AS total
                 FROM node_visits WHERE left_at IS NOT NULL GROUP BY 1, 2, 3) y GROUP BY 1, 2) w
  ON w.node_id = p.node_id AND w.hour = p.hour;
INSERT INTO rollup_edges_hourly (flow_version_id, from_node, to_node, hour, count, total, hist)
SELECT flow_version_id, from_node, node_id, hour, sum(n), sum(total), jsonb_object_agg(b::text, n)
FROM (SELECT flow_version_id, from_node, node_id, {hours_in.format(col="left_at")} AS hour, {_bucket("dwell_seconds")} AS b,
             count(*) AS n, sum(dwell_seconds) AS total
      FROM node_visits WHERE left_at IS NOT NULL AND from_node IS NOT NULL GROUP BY 1, 2, 3, 4, 5) x
GROUP BY flow_version_id, from_node, node_id, hour;
INSERT INTO rollup_costs_hourly (hour, dimension_id, value, driver_id, orders, quantity, amount)
SELECT {hours_in.format(col="f.created_at")}, d.dimension_id, d.value, 0, count(*), 0, 0
FROM order_dimensions d JOIN order_facts f ON f.order_id = d.order_id GROUP BY 1, 2, 3;
INSERT INTO rollup_costs_hourly (hour, dimension_id, value, driver_id, orders, quantity, amount)
SELECT {hours_in.format(col="f.created_at")}, d.dimension_id, d.value, c.driver_id, count(*), sum(c.quantity), sum(c.amount)
FROM order_dimensions d JOIN order_facts f ON f.order_id = d.order_id JOIN order_costs c ON c.order_id = d.order_id
GROUP BY 1, 2, 3, 4;
INSERT INTO rollup_lookups_hourly (hour, channel, via, count)
SELECT h, c, v, CASE WHEN v = 'self' THEN 20 + (extract(hour FROM h)::int % 7) ELSE 6 END
FROM generate_series(date_trunc('hour', {start}), date_trunc('hour', {now}::timestamptz), interval '1 hour') AS h,
     unnest(ARRAY{str(CHANNELS).replace('"', "'")}) AS c, unnest(ARRAY['self', 'assisted']) AS v"""


def _daily(hourly: str, daily: str, keys: list[str], numbers: list[str], maps: list[str]) -> str:
    """Daily rows of a rollup from its hourly rows, merging the JSON count maps."""
    day = f"(date_trunc('day', hour AT TIME ZONE '{ZONE}') AT TIME ZONE '{ZONE}')"
    k = ", ".join(keys)
    sums = ", ".join(f"sum({n}) AS {n}" for n in numbers)
    merged = " ".join(
        f"LEFT JOIN (SELECT {k}, day, jsonb_object_agg(name, v) AS {m} FROM (SELECT {k}, day, name, sum(v::int) AS v "
        f"FROM d, jsonb_each_text(d.{m}) AS j(name, v) GROUP BY {k}, day, name) x GROUP BY {k}, day) {m}_ USING ({k}, day)"
        for m in maps
    )
    cols = ", ".join([*keys, "day", *numbers, *maps])
    picks = ", ".join(
        [
            *(f"n.{c}" for c in [*keys, "day", *numbers]),
            *(f"COALESCE({m}_.{m}, '{{}}'::jsonb)" for m in maps),
        ]
    )
    return (f"WITH d AS (SELECT {k}, {day} AS day, {', '.join(numbers)}, {', '.join(maps)} FROM {hourly}), "
            f"n AS (SELECT {k}, day, {sums} FROM d GROUP BY {k}, day) "
            f"INSERT INTO {daily} ({cols}) SELECT {picks} FROM n {merged}")  # fmt: skip


DAILY = [
    ("rollup_durations_hourly", "rollup_durations_daily", ["metric", "channel"], ["count", "total"], ["hist"]),
    ("rollup_nodes_hourly", "rollup_nodes_daily", ["flow_version_id", "node_id"], ["passes", "waits", "total"],
     ["hist", "branches"]),
    ("rollup_edges_hourly", "rollup_edges_daily", ["flow_version_id", "from_node", "to_node"], ["count", "total"],
     ["hist"]),
]  # fmt: skip


def daily() -> str:
    """Every daily rollup, from the hourly ones."""
    return ";\n".join(_daily(*spec) for spec in DAILY)
