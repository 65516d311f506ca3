"""The admin: contact points and their integrations, deliveries, templates and API tokens.

One module per area; importing them registers their ModelAdmins with the default site.
"""

from django.contrib import admin

from contactpoints.admin import api_tokens, contact_points, deliveries, integrations, notification_templates

__all__ = ["api_tokens", "contact_points", "deliveries", "integrations", "notification_templates"]

admin.site.site_header = "Contact points"
admin.site.site_title = "Contact points"
admin.site.index_title = "Administration"
