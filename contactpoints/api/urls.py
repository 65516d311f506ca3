from django.urls import path, re_path

from contactpoints.api import intake_view, provisioning_views, views

urlpatterns = [
    re_path(r"^intake/(?P<contact_point_uid>[-\w]+)/?$", intake_view.IntakeView.as_view(), name="intake"),
    path("provisioning/contact-points", provisioning_views.ContactPointCollection.as_view(), name="provisioning"),
    path(
        "provisioning/contact-points/<str:uid>",
        provisioning_views.ContactPointItem.as_view(),
        name="provisioning-item",
    ),
    path("deliveries", views.DeliveryList.as_view(), name="deliveries"),
    path("deliveries/<uuid:pk>", views.DeliveryDetail.as_view(), name="delivery"),
    path("deliveries/<uuid:pk>/retry", views.retry_delivery, name="delivery-retry"),
    path("integration-types", views.integration_types, name="integration-types"),
]
