"""Grafana's provisioning paths, under /api/v1/provisioning/."""

from django.urls import path

from contactpoints.api import provisioning_views

urlpatterns = [
    path("contact-points", provisioning_views.ContactPointCollection.as_view(), name="provisioning"),
    # Before the item path, which would otherwise take "export" for a uid.
    path("contact-points/export", provisioning_views.ContactPointExport.as_view(), name="provisioning-export"),
    path("contact-points/<str:uid>", provisioning_views.ContactPointItem.as_view(), name="provisioning-item"),
]
