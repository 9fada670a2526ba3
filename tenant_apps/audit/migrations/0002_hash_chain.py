"""The hash chain: three columns, an index to find a partition's last link, and the existing entries
chained in (occurred_at, id) order (run as the owner role, which may update the table)."""

from django.db import migrations, models

ADD = """
ALTER TABLE audit_event ADD COLUMN chain_seq bigint NULL;
ALTER TABLE audit_event ADD COLUMN prev_hash varchar(64) NULL;
ALTER TABLE audit_event ADD COLUMN entry_hash varchar(64) NULL;
CREATE INDEX audit_event_chain_idx ON audit_event (chain_seq DESC);
"""
DROP = """
DROP INDEX audit_event_chain_idx;
ALTER TABLE audit_event DROP COLUMN chain_seq, DROP COLUMN prev_hash, DROP COLUMN entry_hash;
"""
FIELDS = "id, occurred_at, actor_id, actor_kind, action, target_type, target_id, changes, ip, user_agent, request_id, channel"


def backfill(apps, schema_editor):
    import json

    from tenant_apps.audit.chain import GENESIS, entry_hash, month_bounds

    names = FIELDS.split(", ")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT {FIELDS} FROM audit_event ORDER BY occurred_at, id")
        rows = [dict(zip(names, row)) for row in cursor.fetchall()]
        current, prev, seq = None, GENESIS, 0
        updates = []
        for entry in rows:
            if isinstance(entry["changes"], str):
                entry["changes"] = json.loads(entry["changes"])
            month = month_bounds(entry["occurred_at"])[0]
            if month != current:
                current, prev, seq = month, GENESIS, 0
            seq += 1
            digest = entry_hash(prev_hash=prev, chain_seq=seq, entry=entry)
            updates.append((seq, prev, digest, entry["id"], entry["occurred_at"]))
            prev = digest
        cursor.executemany(
            "UPDATE audit_event SET chain_seq = %s, prev_hash = %s, entry_hash = %s WHERE id = %s AND occurred_at = %s",
            updates,
        )


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(ADD, DROP)],
            state_operations=[
                migrations.AddField("auditevent", "chain_seq", models.BigIntegerField(null=True)),
                migrations.AddField("auditevent", "prev_hash", models.CharField(max_length=64, null=True)),
                migrations.AddField("auditevent", "entry_hash", models.CharField(max_length=64, null=True)),
            ],
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
