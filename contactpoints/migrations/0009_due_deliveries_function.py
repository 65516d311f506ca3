"""contactpoints_due_deliveries(): the claim's pick of due deliveries, walking the due index in order.

Claims must walk the partial index `delivery_due` with an index scan: it marks the entries of rows
that left the queue as dead as it passes, so the next claim skips them. A queue holds few due rows,
so the planner prefers a bitmap scan and a sort, which marks nothing: every claim then re-read each
entry left behind since the last vacuum (10,000 of them after a burst: 0.6-1.5 ms per claim). A
plain statement cannot say which scan to use; a function can, with SET. The statuses are written out
so that the plan can prove the index's condition. ROWS tells the claim's UPDATE to expect a batch,
not the default thousand rows, for which it would read the whole deliveries table to join them.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION contactpoints_due_deliveries(due_by timestamptz, max_rows integer)
RETURNS SETOF uuid
LANGUAGE plpgsql
ROWS 10
SET enable_bitmapscan = off
AS $$
BEGIN
    RETURN QUERY
        SELECT id FROM contactpoints_delivery
        WHERE status IN ('pending', 'retrying') AND next_attempt_at <= due_by
        ORDER BY next_attempt_at
        LIMIT max_rows
        FOR UPDATE SKIP LOCKED;
END
$$
"""
DROP = "DROP FUNCTION IF EXISTS contactpoints_due_deliveries(timestamptz, integer)"


def on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("contactpoints", "0008_partial_coalesced_index"),
    ]

    operations = [migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP))]
