from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('voices', '0004_admin_scale')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Respondent',
            name='settings',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
    ]
