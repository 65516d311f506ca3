from django.urls import include, path

from contactpoints.api import (
    contact_point_views,
    intake_view,
    openapi_extensions,  # noqa: F401 - registers the intake's and provisioning's schema
    template_views,
    views,
)

urlpatterns = [
    path("intake/<slug:contact_point_uid>", intake_view.IntakeView.as_view(), name="intake"),
    # The same with a trailing slash, which Alertmanager configurations often carry; documented once.
    path("intake/<slug:contact_point_uid>/", intake_view.IntakeView.as_view(schema=None)),
    path("provisioning/", include("contactpoints.api.provisioning_urls")),
    path("contact-points", contact_point_views.ContactPointList.as_view(), name="contact-points"),
    path("contact-points/<str:uid>", contact_point_views.ContactPointChange.as_view(), name="contact-point"),
    path("contact-points/<str:uid>/test", contact_point_views.ContactPointTest.as_view(), name="contact-point-test"),
    path("deliveries", views.DeliveryList.as_view(), name="deliveries"),
    path("deliveries/<uuid:pk>", views.DeliveryDetail.as_view(), name="delivery"),
    path("deliveries/<uuid:pk>/retry", views.DeliveryRetry.as_view(), name="delivery-retry"),
    path("integration-types", views.IntegrationTypes.as_view(), name="integration-types"),
    path("templates", template_views.TemplateList.as_view(), name="templates"),
    # Before templates/<name>: "preview" is reserved as a template name for this.
    path("templates/preview", template_views.TemplatePreview.as_view(), name="template-preview"),
    path("templates/<str:name>", template_views.TemplateDetail.as_view(), name="template"),
]
