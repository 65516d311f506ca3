"""Signal handlers: keep per-process caches honest."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from contactpoints.models import NotificationTemplate


@receiver([post_save, post_delete], sender=NotificationTemplate)
def template_changed(**kwargs) -> None:
    from contactpoints.delivery import forget_user_templates

    forget_user_templates()
