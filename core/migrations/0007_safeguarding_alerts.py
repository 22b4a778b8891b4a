from tortoise import migrations
from tortoise.migrations import operations as ops
from core.storage.models import new_ref
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('voices', '0006_voice_clips')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SafeguardingAlert',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ref', fields.CharField(default=new_ref, unique=True, max_length=36)),
                ('response_id', fields.IntField(null=True, db_index=True)),
                ('answer_id', fields.IntField(null=True)),
                ('source', fields.CharField(max_length=16)),
                ('category', fields.CharField(max_length=32)),
                ('severity', fields.IntField(default=2)),
                ('matched', fields.CharField(default='', max_length=64)),
                ('language', fields.CharField(default='en', max_length=16)),
                ('age_band', fields.CharField(null=True, max_length=16)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('acknowledged_by', fields.CharField(null=True, max_length=254)),
                ('acknowledged_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('outcome', fields.TextField(null=True, unique=False)),
                ('outcome_by', fields.CharField(null=True, max_length=254)),
                ('outcome_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('notified_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(null=True, max_length=100)),
                ('escalated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'safeguarding_alert', 'app': 'voices', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
