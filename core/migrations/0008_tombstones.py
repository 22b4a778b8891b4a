from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('voices', '0007_safeguarding_alerts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Tombstone',
            fields=[
                ('key_hash', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('deleted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_update_id', fields.BigIntField(null=True)),
            ],
            options={'table': 'tombstone', 'app': 'voices', 'pk_attr': 'key_hash'},
            bases=['Model'],
        ),
    ]
