"""Read-side serializers for the API."""

from __future__ import annotations

from rest_framework import serializers

from contactpoints.models import Attempt, Delivery


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = ["number", "started_at", "duration_ms", "outcome", "http_status", "error"]


class DeliverySerializer(serializers.ModelSerializer):
    contact_point = serializers.CharField(source="integration.contact_point.uid")
    integration_uid = serializers.CharField(source="integration.uid")
    integration_type = serializers.CharField(source="integration.type")
    notification = serializers.UUIDField(source="notification_id")

    class Meta:
        model = Delivery
        fields = [
            "id",
            "notification",
            "contact_point",
            "integration_uid",
            "integration_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "last_http_status",
            "created_at",
            "updated_at",
            "delivered_at",
        ]


class DeliveryDetailSerializer(DeliverySerializer):
    attempts_detail = AttemptSerializer(source="attempt_set", many=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "attempts_detail"]
