"""Persistence: SQLAlchemy Core tables, Alembic migrations, engines for SQLite and PostgreSQL.

``engine.create_engine_for(url)`` opens the database (embedded SQLite by default),
``migrate.upgrade(engine_or_url)`` brings the schema to head, and ``schema`` holds every table
on one ``MetaData``. A new area adds ``schema/<area>.py``, imports it in ``schema/__init__.py``
and adds a revision under ``migrations/versions/``; the drift test keeps the two in step.
"""
