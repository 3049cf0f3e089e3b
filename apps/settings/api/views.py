"""CloudStack configuration (unified POST /ossea/config, seed 001) and VMware credentials (seed 000)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.serializers import errors
from apps.core.api.validation import validated
from apps.core.choices import Role
from apps.core.exceptions import InvalidInput
from apps.core.permissions import RolePermission, user_roles

from .. import services
from ..choices import OsseaConfigAction
from ..filtersets import CloudResourceFilterSet
from ..models import CloudResource, GuestOsMapping, OsseaConfig, StorageMapping, VMwareCredential
from ..selectors import credential_test, ossea_test_connection
from .serializers import (
    CloudResourceSerializer,
    ConnectionTestInputSerializer,
    CredentialTestSerializer,
    GuestOsMappingSerializer,
    OsseaConfigActionSerializer,
    OsseaConfigAnswerSerializer,
    OsseaConfigCreatedSerializer,
    OsseaConfigInputSerializer,
    StorageMappingSerializer,
    VMwareCredentialInputSerializer,
    VMwareCredentialSerializer,
    connection_test_answer,
)


def _sent(serializer, request) -> dict:
    """The fields the request sent, validated: a PUT changes only those (no resending a password)."""
    data = validated(serializer, request.data, partial=True)
    return {k: v for k, v in data.items() if k in request.data}


class OsseaConfigView(APIView):
    """One POST endpoint for every action (get, create, update, delete, test), as existing clients expect."""

    # 'get' and 'test' only read, so a viewer may use them; the permission is checked per action below.
    read_roles = write_roles = ("viewer",)

    @extend_schema(request=OsseaConfigActionSerializer,
                   responses={200: OsseaConfigAnswerSerializer, 201: OsseaConfigCreatedSerializer,
                              **errors(400, 403, 404, 409, 502, 503)}, tags=["settings"],
                   summary="Get, create, update, delete or test CloudStack configurations")
    def post(self, request):
        payload = validated(OsseaConfigActionSerializer, request.data)
        act = payload["action"]
        if act not in (OsseaConfigAction.GET, OsseaConfigAction.TEST) and not (user_roles(request.user) & {"operator"}):
            raise PermissionDenied("Your role does not allow this action")
        handler = getattr(self, f"_do_{act}")
        return handler(payload)

    def _do_get(self, payload):
        if "id" in payload:
            config = services.ossea_config_get(payload["id"])
            return Response(OsseaConfigAnswerSerializer({"success": True, "configuration": config}).data)
        return Response(OsseaConfigAnswerSerializer({"success": True, "configurations": OsseaConfig.objects.all()}).data)

    def _do_create(self, payload):
        data = validated(OsseaConfigInputSerializer, payload["configuration"], what="configuration")
        config = services.ossea_config_create(data=data)
        return Response(OsseaConfigCreatedSerializer({"success": True, "message": "Configuration created successfully",
                                                      "configuration": config}).data, status=status.HTTP_201_CREATED)

    def _do_update(self, payload):
        config = services.ossea_config_get(payload["id"])
        data = validated(OsseaConfigInputSerializer, payload["configuration"], what="configuration", partial=True)
        # partial=True keeps defaults out, so only the fields the caller gave change.
        data = {k: v for k, v in data.items() if k in payload["configuration"]}
        config = services.ossea_config_update(config=config, data=data)
        return Response(OsseaConfigAnswerSerializer({"success": True, "message": "Configuration updated successfully",
                                                     "configuration": config}).data)

    def _do_delete(self, payload):
        config = services.ossea_config_get(payload["id"])
        services.ossea_config_delete(config=config)
        return Response(OsseaConfigAnswerSerializer({"success": True,
                                                     "message": f"Configuration {payload['id']} deleted successfully"}
                                                    ).data)

    def _do_test(self, payload):
        if "configuration" in payload:
            configuration = validated(ConnectionTestInputSerializer, payload["configuration"], what="configuration")
        elif "id" in payload:
            configuration = None
        else:
            raise InvalidInput("Invalid request: configuration: This field is required for action 'test'.")
        details = ossea_test_connection(config_id=payload.get("id"), configuration=configuration,
                                        any_url=Role.OPERATOR in user_roles(self.request.user))
        return Response(connection_test_answer(details))


class VMwareCredentialViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = VMwareCredential.objects.all()
    serializer_class = VMwareCredentialSerializer
    permission_classes = [RolePermission]
    filterset_fields = ["is_default", "vcenter_host", "datacenter"]

    @extend_schema(request=VMwareCredentialInputSerializer, responses={201: VMwareCredentialSerializer, **errors(409)})
    def create(self, request):
        data = validated(VMwareCredentialInputSerializer, request.data)
        credential = services.credential_create(data=data)
        return Response(VMwareCredentialSerializer(credential).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=VMwareCredentialInputSerializer, responses={200: VMwareCredentialSerializer, **errors(409)})
    def update(self, request, pk=None, partial=True):
        # PUT is partial too: clients change one field without resending the password.
        credential = self.get_object()
        credential = services.credential_update(credential=credential,
                                                data=_sent(VMwareCredentialInputSerializer, request))
        return Response(VMwareCredentialSerializer(credential).data)

    @extend_schema(request=VMwareCredentialInputSerializer, responses={200: VMwareCredentialSerializer, **errors(409)})
    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    def destroy(self, request, pk=None):
        services.credential_delete(credential=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: VMwareCredentialSerializer})
    @action(detail=True, methods=["put", "post"], url_path="set-default")
    def set_default(self, request, pk=None):
        credential = services.credential_set_default(credential=self.get_object())
        return Response(VMwareCredentialSerializer(credential).data)

    @extend_schema(responses={200: VMwareCredentialSerializer, **errors(404)})
    @action(detail=False, methods=["get"])
    def default(self, request):
        return Response(VMwareCredentialSerializer(services.credential_default()).data)

    @extend_schema(request=None, responses={200: CredentialTestSerializer, **errors(404, 502, 503)})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        check = credential_test(credential=self.get_object())
        return Response(CredentialTestSerializer({"success": True, "message": "vCenter reachable and credentials accepted",
                                                  "details": check}).data)


def _mapping_viewset(name: str, doc: str, model, serializer, save, filterset_fields: list[str]) -> type:
    """A list of mappings an operator edits: list, read, create, change (partially, PUT too), delete; every write
    goes through `save(mapping=..., data=...)`, which answers 400 or 409 in our words."""

    class MappingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
        queryset = model.objects.all()
        serializer_class = serializer
        permission_classes = [RolePermission]

        @extend_schema(request=serializer, responses={201: serializer, **errors(409)})
        def create(self, request):
            mapping = save(mapping=model(), data=validated(serializer, request.data))
            return Response(serializer(mapping).data, status=status.HTTP_201_CREATED)

        @extend_schema(request=serializer, responses={200: serializer, **errors(409)})
        def update(self, request, pk=None, partial=True):
            mapping = save(mapping=self.get_object(), data=_sent(serializer, request))
            return Response(serializer(mapping).data)

        @extend_schema(request=serializer, responses={200: serializer, **errors(409)})
        def partial_update(self, request, pk=None):
            return self.update(request, pk=pk, partial=True)

        def destroy(self, request, pk=None):
            self.get_object().delete()
            return Response(status=status.HTTP_204_NO_CONTENT)

    MappingViewSet.filterset_fields = filterset_fields
    MappingViewSet.__name__ = MappingViewSet.__qualname__ = name
    MappingViewSet.__doc__ = doc
    return MappingViewSet


GuestOsMappingViewSet = _mapping_viewset(
    "GuestOsMappingViewSet", "VMware guest OS -> CloudStack OS type, read at failover to set the VM's ostypeid.",
    GuestOsMapping, GuestOsMappingSerializer, services.guest_os_mapping_save, ["vmware_guest_id"])
StorageMappingViewSet = _mapping_viewset(
    "StorageMappingViewSet",
    "VMware datastore (or one VM disk) -> the disk offering and/or storage pool its replica volumes go to.",
    StorageMapping, StorageMappingSerializer, services.storage_mapping_save,
    ["ossea_config", "datastore", "vm_id", "disk_id"])


class CloudResourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The CloudStack resources the platform recorded: `?state=orphaned` is what the orphan sweep could not remove
    (with its reason), to be removed in CloudStack by the operator."""

    queryset = CloudResource.objects.select_related("ossea_config")
    serializer_class = CloudResourceSerializer
    permission_classes = [RolePermission]
    filterset_class = CloudResourceFilterSet
