from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('voices', '0008_tombstones')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Bulletin',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('title', fields.CharField(max_length=200)),
                ('texts', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharField(default='draft', max_length=16)),
                ('published_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(default='', max_length=254)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('responses', fields.ManyToManyField('voices.Response', unique=True, db_constraint=True, through='bulletin_response', forward_key='response_id', backward_key='bulletin_id', related_name='bulletins', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'bulletin', 'app': 'voices', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Campaign',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(default='survey', max_length=16)),
                ('name', fields.CharField(max_length=200)),
                ('conversation_id', fields.CharField(null=True, max_length=64)),
                ('conversation_version', fields.IntField(null=True)),
                ('bulletin', fields.ForeignKeyField('voices.Bulletin', source_field='bulletin_id', null=True, db_constraint=True, to_field='id', related_name='campaigns', on_delete=OnDelete.SET_NULL)),
                ('audience', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('invitation', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('reminder', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('reminder_days', fields.IntField(default=7)),
                ('status', fields.CharField(default='draft', max_length=16)),
                ('scheduled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('launched_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(default='', max_length=254)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'campaign', 'app': 'voices', 'indexes': [Index(fields=['status', 'scheduled_at'], name='campaign_status')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Delivery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('voices.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('respondent', fields.ForeignKeyField('voices.Respondent', source_field='respondent_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(default='invite', max_length=16)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('language', fields.CharField(default='en', max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('not_before', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sending_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('message_id', fields.BigIntField(null=True)),
                ('error', fields.CharField(null=True, max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'delivery', 'app': 'voices', 'unique_together': (('campaign', 'respondent', 'kind'),), 'indexes': [Index(fields=['status', 'id'], name='delivery_status'), Index(fields=['respondent_id'], name='delivery_respondent')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Respondent',
            name='blocked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Respondent',
            name='contact_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
