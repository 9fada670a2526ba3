"""Create the database roles and the database, idempotently, as a PostgreSQL superuser.

owner role  LOGIN, BYPASSRLS: owns every schema and table, runs migrations and provisioning.
app role    LOGIN, NOSUPERUSER, NOBYPASSRLS, NOCREATEDB, NOCREATEROLE: DML only, under RLS.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from psycopg import sql


def _url_parts(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password) if parts.password else None,
        "dbname": parts.path.lstrip("/"),
    }


def _ensure_role(cur: psycopg.Cursor[Any], name: str, password: str | None, attributes: str) -> str:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
    verb = "ALTER" if cur.fetchone() else "CREATE"
    statement = sql.SQL(f"{verb} ROLE {{}} {attributes}").format(sql.Identifier(name))  # attributes: constants
    if password:
        statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
    cur.execute(statement)
    return "created" if verb == "CREATE" else "updated"


class Command(BaseCommand):
    help = (
        "Create (or bring up to date) the owner and application database roles and the database, "
        "as a PostgreSQL superuser (DATABASE_ADMIN_URL). Safe to run any number of times."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--recreate",
            action="store_true",
            help="Drop and re-create the database first (destroys its data; used by the test suite).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        app = _url_parts(settings.DATABASE_APP_URL)
        owner = _url_parts(settings.DATABASE_OWNER_URL)
        dbname = owner["dbname"]
        if app["dbname"] != dbname:
            raise CommandError("DATABASE_URL and DATABASE_OWNER_URL must name the same database.")
        if app["user"] == owner["user"]:
            raise CommandError("The application role and the owner role must be different roles.")
        try:
            admin = psycopg.connect(settings.DATABASE_ADMIN_URL, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise CommandError(f"Cannot connect as the PostgreSQL superuser (DATABASE_ADMIN_URL): {exc}") from exc
        with admin, admin.cursor() as cur:
            result = _ensure_role(
                cur, owner["user"], owner["password"], "LOGIN NOSUPERUSER BYPASSRLS NOCREATEROLE CREATEDB"
            )
            self.stdout.write(f"owner role {owner['user']!r}: {result}")
            result = _ensure_role(
                cur, app["user"], app["password"], "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION"
            )
            self.stdout.write(f"application role {app['user']!r}: {result}")
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname])
            exists = cur.fetchone() is not None
            if exists and options["recreate"]:
                cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(dbname)))
                exists = False
            if not exists:
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(owner["user"]))
                )
            self.stdout.write(f"database {dbname!r}: {'ready' if exists else 'created'}")
            cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(dbname)))
            cur.execute(
                sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                    sql.Identifier(dbname), sql.Identifier(app["user"])
                )
            )
        in_db = urlunsplit(urlsplit(settings.DATABASE_ADMIN_URL)._replace(path=f"/{dbname}"))
        with psycopg.connect(in_db, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(owner["user"])))
            cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        self.stdout.write(self.style.SUCCESS("Database roles and database are ready. Next: python manage.py migrate"))
