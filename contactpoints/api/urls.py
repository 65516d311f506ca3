from django.urls import include, path, re_path

from contactpoints.api import intake_view, views

urlpatterns = [
    re_path(r"^intake/(?P<contact_point_uid>[-\w]+)/?$", intake_view.IntakeView.as_view(), name="intake"),
    path("provisioning/", include("contactpoints.api.provisioning_urls")),
    path("deliveries", views.DeliveryList.as_view(), name="deliveries"),
    path("deliveries/<uuid:pk>", views.DeliveryDetail.as_view(), name="delivery"),
    path("deliveries/<uuid:pk>/retry", views.retry_delivery, name="delivery-retry"),
    path("integration-types", views.integration_types, name="integration-types"),
]
