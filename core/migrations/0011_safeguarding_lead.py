from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('voices', '0010_anonymous_and_alert_words')]

    initial = False

    operations = [
        ops.AddField(
            model_name='AdminUser',
            name='safeguarding_lead',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
