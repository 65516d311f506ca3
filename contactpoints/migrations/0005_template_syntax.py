# Notification templates carry their syntax (Go or Jinja2) and provenance (templates as code).
# Every template stored before this migration was written for Jinja2, the only engine then.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('contactpoints', '0004_delivery_queue'),
    ]

    operations = [
        migrations.AddField(
            model_name='notificationtemplate',
            name='syntax',
            field=models.CharField(choices=[('go', 'Go text/template (Grafana)'), ('jinja', 'Jinja2')], default='jinja', max_length=8),
        ),
        migrations.AddField(
            model_name='notificationtemplate',
            name='provenance',
            field=models.CharField(blank=True, choices=[('', 'none'), ('api', 'api'), ('file', 'file')], default='', max_length=10),
        ),
    ]
