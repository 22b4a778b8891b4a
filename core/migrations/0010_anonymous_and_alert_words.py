from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('voices', '0009_campaigns')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Respondent',
            name='anonymous',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='SafeguardingAlert',
            name='words',
            field=fields.TextField(null=True, unique=False),
        ),
    ]
