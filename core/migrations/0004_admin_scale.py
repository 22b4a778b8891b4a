"""Admin at scale: the dashboard's daily counts, catch-up marks, and indexes for full-text search.

Search finds answers whose text or transcript contains the words typed, case-insensitively. On
PostgreSQL trigram GIN indexes (pg_trgm) serve ``ILIKE '%words%'`` directly and stay current by
themselves. SQLite has no such index, so a trigram FTS5 table holds a copy of the answers' text
and transcript; the admin keeps it current (admin/queries/search.py) and always checks its
candidates again with ``LIKE``, so it only has to find a superset.

Made with makemigrations, plus the RunPython step and one hand fix: ``generated=False`` on
DashboardResponse.response_id, which the writer drops (see 0001).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


PG_UP = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS answer_text_trgm ON answer USING gin (text gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS answer_transcript_trgm ON answer USING gin (transcript gin_trgm_ops)",
)
PG_DOWN = ("DROP INDEX IF EXISTS answer_text_trgm", "DROP INDEX IF EXISTS answer_transcript_trgm")
SQLITE_UP = ("CREATE VIRTUAL TABLE IF NOT EXISTS answer_search USING fts5(text, transcript, tokenize='trigram')",)
SQLITE_DOWN = ("DROP TABLE IF EXISTS answer_search",)


async def _run(schema_editor, postgres, sqlite):
    client = schema_editor.client
    for statement in postgres if client.capabilities.dialect == "postgres" else sqlite:
        await client.execute_script(statement)


async def add_search(apps, schema_editor):
    await _run(schema_editor, PG_UP, SQLITE_UP)


async def remove_search(apps, schema_editor):
    await _run(schema_editor, PG_DOWN, SQLITE_DOWN)


class Migration(migrations.Migration):
    dependencies = [('voices', '0003_admin')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AdminMark',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_id', fields.BigIntField(default=0)),
            ],
            options={'table': 'admin_mark', 'app': 'voices', 'pk_attr': 'name'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DashboardCount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.CharField(max_length=10)),
                ('dimension', fields.CharField(max_length=16)),
                ('value', fields.CharField(max_length=64)),
                ('polarity', fields.CharField(default='', max_length=16)),
                ('n', fields.IntField()),
            ],
            options={'table': 'dashboard_count', 'app': 'voices', 'unique_together': (('day', 'dimension', 'value', 'polarity'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DashboardResponse',
            fields=[
                ('response_id', fields.IntField(generated=False, primary_key=True, unique=True, db_index=True)),
                ('day', fields.CharField(max_length=10)),
                ('conversation_id', fields.CharField(max_length=64)),
                ('polarity', fields.CharField(null=True, max_length=16)),
                ('priority_codes', fields.CharField(null=True, max_length=200)),
                ('role', fields.CharField(null=True, max_length=32)),
                ('language', fields.CharField(max_length=16)),
                ('age_band', fields.CharField(null=True, max_length=16)),
            ],
            options={'table': 'dashboard_response', 'app': 'voices', 'pk_attr': 'response_id'},
            bases=['Model'],
        ),
        ops.RunPython(add_search, remove_search),
    ]
