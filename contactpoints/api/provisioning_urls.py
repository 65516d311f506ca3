"""Grafana's provisioning paths, under /api/v1/provisioning/."""

from django.urls import path

from contactpoints.api import provisioning_template_views, provisioning_views

urlpatterns = [
    path("contact-points", provisioning_views.ContactPointCollection.as_view(), name="provisioning"),
    # Before the item path, which would otherwise take "export" for a uid.
    path("contact-points/export", provisioning_views.ContactPointExport.as_view(), name="provisioning-export"),
    path("contact-points/<str:uid>", provisioning_views.ContactPointItem.as_view(), name="provisioning-item"),
    path("templates", provisioning_template_views.TemplateCollection.as_view(), name="provisioning-templates"),
    path("templates/<str:name>", provisioning_template_views.TemplateItem.as_view(), name="provisioning-template"),
]
