from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('voices', '0002_priorities')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AdminUser',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('email', fields.CharField(unique=True, max_length=254)),
                ('role', fields.CharField(max_length=16)),
                ('password_hash', fields.CharField(null=True, max_length=200)),
                ('totp_secret', fields.CharField(null=True, max_length=64)),
                ('totp_confirmed', fields.BooleanField(default=False)),
                ('totp_last_step', fields.BigIntField(default=0)),
                ('disabled', fields.BooleanField(default=False)),
                ('failed_count', fields.IntField(default=0)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_sign_in_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'admin_user', 'app': 'voices', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AdminInvite',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('user', fields.ForeignKeyField('voices.AdminUser', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='invites', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharField(max_length=16)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'admin_invite', 'app': 'voices', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AdminSession',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('user', fields.ForeignKeyField('voices.AdminUser', source_field='user_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('stage', fields.CharField(max_length=16)),
                ('csrf_token', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'admin_session', 'app': 'voices', 'indexes': [Index(fields=['user_id'], name='admin_session_user')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('actor', fields.CharField(max_length=254)),
                ('action', fields.CharField(max_length=32)),
                ('target', fields.CharField(default='', max_length=100)),
                ('detail', fields.CharField(default='', max_length=300)),
            ],
            options={'table': 'audit_event', 'app': 'voices', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BoardQuote',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('response', fields.ForeignKeyField('voices.Response', source_field='response_id', db_constraint=True, to_field='id', related_name='quotes', on_delete=OnDelete.CASCADE)),
                ('text', fields.TextField(unique=False)),
                ('chosen_by', fields.CharField(max_length=254)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'board_quote', 'app': 'voices', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='KeywordRule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('language', fields.CharField(max_length=16)),
                ('keyword', fields.CharField(max_length=100)),
                ('priority', fields.ForeignKeyField('voices.Priority', source_field='priority_id', db_constraint=True, to_field='code', related_name='keyword_rules', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'keyword_rule', 'app': 'voices', 'unique_together': (('language', 'keyword', 'priority'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ResponseCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('response', fields.ForeignKeyField('voices.Response', source_field='response_id', db_constraint=True, to_field='id', related_name='codes', on_delete=OnDelete.CASCADE)),
                ('priority', fields.ForeignKeyField('voices.Priority', source_field='priority_id', db_constraint=True, to_field='code', related_name='response_codes', on_delete=OnDelete.RESTRICT)),
                ('coded_by', fields.CharField(max_length=254)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'response_code', 'app': 'voices', 'unique_together': (('response', 'priority'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ResponseNote',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('response', fields.ForeignKeyField('voices.Response', source_field='response_id', db_constraint=True, to_field='id', related_name='notes', on_delete=OnDelete.CASCADE)),
                ('author', fields.CharField(max_length=254)),
                ('text', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'response_note', 'app': 'voices', 'indexes': [Index(fields=['response_id'], name='response_note_response')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Answer',
            name='transcript',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddIndex(
            model_name='Answer',
            index=Index(fields=['updated_at'], name='answer_updated'),
        ),
        ops.AddField(
            model_name='Response',
            name='flagged',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Response',
            name='has_voice',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Response',
            name='polarity',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='Response',
            name='priority_codes',
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddField(
            model_name='Response',
            name='review_status',
            field=fields.CharField(default='new', max_length=16),
        ),
        ops.AddField(
            model_name='Response',
            name='summarised_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='Response',
            index=Index(fields=['updated_at'], name='response_updated'),
        ),
        ops.AddIndex(
            model_name='Response',
            index=Index(fields=['summarised_at'], name='response_summarised'),
        ),
        ops.AddIndex(
            model_name='Response',
            index=Index(fields=['started_at', 'conversation_id', 'polarity', 'priority_codes', 'role', 'language', 'age_band'], name='response_dashboard'),
        ),
    ]
