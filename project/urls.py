from django.contrib import admin
from django.urls import include, path

from contactpoints.api import views as api_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("contactpoints.api.urls")),
    path("healthz", api_views.healthz, name="healthz"),
    path("metrics", api_views.metrics_view, name="metrics"),
]
