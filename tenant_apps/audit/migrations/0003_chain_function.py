"""One round trip for the chain: take the partition's lock, then (a new snapshot per statement in a volatile
PL/pgSQL function under READ COMMITTED) reserve an id and read the last link. Created in the tenant schema
(cloned with it); ``audit_event`` resolves through the caller's search_path."""

from django.db import migrations

CREATE = """
CREATE FUNCTION audit_chain_next(lock_key text, lo timestamptz, hi timestamptz,
                                 OUT new_id bigint, OUT last_seq bigint, OUT last_hash text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(lock_key, 0));
    new_id := nextval(pg_get_serial_sequence('audit_event', 'id'));
    SELECT e.chain_seq, e.entry_hash INTO last_seq, last_hash FROM audit_event e
     WHERE e.occurred_at >= lo AND e.occurred_at < hi AND e.chain_seq IS NOT NULL
     ORDER BY e.chain_seq DESC LIMIT 1;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_hash_chain")]
    operations = [
        migrations.RunSQL(CREATE, "DROP FUNCTION audit_chain_next(text, timestamptz, timestamptz)"),
    ]
