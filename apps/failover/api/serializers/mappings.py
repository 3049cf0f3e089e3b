"""What the network-mapping endpoints answer, rendered from the stored mappings (and the network status)."""
from __future__ import annotations

from rest_framework import serializers

from apps.core.api.fields import IsoDateTimeField
from apps.core.api.serializers import AnswerSerializer, Plain, PlainSerializer, plain_answer

from ...choices import FailoverType
from ...models import NetworkMapping
from .fields import strings


class FailoverVMAnswerSerializer(AnswerSerializer):
    """An answer about one VM."""

    # The instance's "vm" is the VM context.
    vm_id = serializers.CharField(source="vm.vm_id")


MappingFieldsSerializer = plain_answer("MappingFieldsSerializer", "source_network_name destination_network_id "
                                                                  "destination_network_name is_test_network:bool")


class NetworkMappingRowSerializer(serializers.ModelSerializer):
    """A stored mapping."""

    vm_id = serializers.CharField(source="vm_context.vm_id")
    vm_name = serializers.CharField(source="vm_context.vm_name")
    created_at = IsoDateTimeField()
    updated_at = IsoDateTimeField()

    class Meta:
        model = NetworkMapping
        fields = ["id", "vm_id", "vm_name", "source_network_name", "destination_network_id",
                  "destination_network_name", "is_test_network", "created_at", "updated_at"]
        read_only_fields = fields


class NetworkMappingListAnswerSerializer(AnswerSerializer):
    total_mappings = serializers.IntegerField(source="total", help_text="Mappings matching the filters")
    returned_mappings = serializers.IntegerField(source="returned", help_text="Mappings in this page")
    mappings = NetworkMappingRowSerializer(many=True, source="items")


class NetworkMappingCreatedSerializer(AnswerSerializer):
    mapping = NetworkMappingRowSerializer(source="*")


class NetworkMappingsOfVMSerializer(FailoverVMAnswerSerializer):
    vm_name = serializers.CharField(source="vm.vm_name")
    mappings = NetworkMappingRowSerializer(many=True)
    total_mappings = serializers.SerializerMethodField()

    def get_total_mappings(self, answer) -> int:
        return len(answer["mappings"])


class NetworkMappingsUpdatedSerializer(NetworkMappingsOfVMSerializer):
    updated = serializers.IntegerField(help_text="How many mappings the request created or replaced")


class NetworkMappingsDeletedSerializer(FailoverVMAnswerSerializer):
    deleted = serializers.IntegerField()


class NetworkMappingsOfSourceSerializer(FailoverVMAnswerSerializer):
    mappings = NetworkMappingRowSerializer(many=True)


class NetworkMappingsOfSourceDeletedSerializer(FailoverVMAnswerSerializer):
    source_network_name = serializers.CharField()
    deleted = serializers.IntegerField()


class NetworkMappingStatusRowSerializer(MappingFieldsSerializer):
    status = serializers.ChoiceField(choices=["mapped", "stale"],
                                     help_text="stale: the VM has no NIC on this source network any more")


class NetworkMappingStatusSerializer(PlainSerializer):
    """readiness.network_info."""

    failover_type = serializers.ChoiceField(choices=FailoverType.choices)
    plain = Plain("total_networks:int mapped_networks:int unmapped_networks:int test_networks_available:bool")
    mappings = NetworkMappingStatusRowSerializer(many=True)
    unmapped = strings(help_text="Source networks without a mapping for this failover type")
    plain_tail = Plain("is_ready_for_failover:bool")


class NetworkMappingStatusAnswerSerializer(FailoverVMAnswerSerializer):
    network_status = NetworkMappingStatusSerializer()
