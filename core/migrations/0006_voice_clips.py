from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('voices', '0005_respondent_settings')]

    initial = False

    operations = [
        ops.CreateModel(
            name='VoiceClip',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('answer', fields.OneToOneField('voices.Answer', source_field='answer_id', db_constraint=True, to_field='id', related_name='clip', on_delete=OnDelete.CASCADE)),
                ('mime', fields.CharField(max_length=32)),
                ('size', fields.IntField()),
                ('data', fields.BinaryField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'voice_clip', 'app': 'voices', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
