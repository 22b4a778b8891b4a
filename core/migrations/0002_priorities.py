"""Seed the coding frame: the four priorities of the SEND strategy and the two provision sub-codes.

The rows are written out here (not imported from the models) so that this migration keeps doing
exactly what it did when it was first released.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

PRIORITIES = [
    ("multi-agency", "Multi-agency working and coordination of services"),
    ("families", "Support for and involvement of parents, carers, children, young people and families"),
    ("provision", "Quality and sufficiency of SEND education provision"),
    ("provision.mainstream", "Supporting mainstream schools and settings"),
    ("provision.specialist", "Sufficient local high-quality specialist places"),
    ("adulthood", "The transition to adulthood"),
]


async def add_priorities(apps, schema_editor):
    Priority = apps.get_model("voices", "Priority")
    db = schema_editor.client
    existing = set(await Priority.all().using_db(db).values_list("code", flat=True))
    rows = [Priority(code=code, name=name) for code, name in PRIORITIES if code not in existing]
    if rows:
        await Priority.bulk_create(rows, using_db=db)


async def remove_priorities(apps, schema_editor):
    Priority = apps.get_model("voices", "Priority")
    await Priority.filter(code__in=[code for code, _ in PRIORITIES]).using_db(schema_editor.client).delete()


class Migration(migrations.Migration):
    dependencies = [('voices', '0001_initial')]

    initial = False

    operations = [
        ops.RunPython(add_priorities, remove_priorities),
    ]
