from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from contactpoints.api import views as api_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("contactpoints.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("healthz", api_views.healthz, name="healthz"),
    path("metrics", api_views.metrics_view, name="metrics"),
]

# API clients get JSON errors, even for URLs that match no view; pages keep Django's.
handler404 = "contactpoints.api.views.not_found"
handler500 = "contactpoints.api.views.server_error"
