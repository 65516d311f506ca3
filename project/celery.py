"""The Celery app: deliveries run here, the database stays the source of truth."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("contactpoints")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
