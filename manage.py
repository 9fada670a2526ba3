#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# Commands that change schemas connect as the database owner role; everything else
# (including the web and worker processes) as the application role. See config/settings/base.py.
OWNER_COMMANDS = {"migrate", "migrate_schemas", "makemigrations", "showmigrations", "sqlmigrate", "bench_tenants"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    if len(sys.argv) > 1 and sys.argv[1] in OWNER_COMMANDS:
        os.environ.setdefault("SURVEY_DB_ROLE", "owner")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
