"""Tenants, dependencies, network mappings and cohorts (seed 004 "Migration Planner Phase 2.10 Endpoints")."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema

from apps.core.api.validation import validated

from .. import selectors, services
from . import planning_serializers as p
from .base import ADMIN, TAGS, PlannerView, ProjectCommand, errors, ok
from .serializers import StatusAnswer

# --- tenants -----------------------------------------------------------------------------------------------------


class TenantListView(PlannerView):
    @extend_schema(responses={200: p.TenantListAnswer}, tags=TAGS, summary="Tenants with VM counts and totals")
    def get(self, request, project_id):
        return ok(p.TenantListAnswer({"tenants": selectors.tenants(services.project_get(project_id))}).data)

    @extend_schema(request=p.TenantRuleSerializer, responses={201: p.TenantRuleAnswer}, tags=TAGS,
                   summary="Add a tenant rule and re-run detection")
    def post(self, request, project_id):
        project = services.project_get(project_id)
        data = validated(p.TenantRuleSerializer, request.data)
        rule, count = services.tenant_rule_add(project=project, data=data)
        return ok({"rule": data, "rule_id": rule.pk, "tenant_count": count}, status=201)


class TenantDetectView(PlannerView):
    @extend_schema(request=None, responses={200: p.DetectAnswer}, tags=TAGS,
                   summary="Re-apply the tenant rules to every VM")
    def post(self, request, project_id):
        return ok({"status": "ok", "tenant_count": services.tenants_detect(project=services.project_get(project_id))})


class TenantDetailView(PlannerView):
    @extend_schema(request=p.TenantUpdateSerializer, responses={200: p.TenantAnswer}, tags=TAGS,
                   summary="Change a tenant's CloudStack target, priority or quota")
    def patch(self, request, project_id, tenant_id):
        project = services.project_get(project_id)
        tenant = services.tenant_get(project, tenant_id)
        data = validated(p.TenantUpdateSerializer, request.data, partial=True)
        services.tenant_update(tenant=tenant, data=data)
        return ok({"tenant": p.TenantSerializer(selectors.tenants(project).get(pk=tenant.pk)).data})


class TenantReadinessView(PlannerView):
    @extend_schema(responses={200: p.ReadinessAnswer}, tags=TAGS,
                   summary="Run and record the tenant's five readiness checks")
    def get(self, request, project_id, tenant_id):
        tenant = services.tenant_get(services.project_get(project_id), tenant_id)
        return ok(services.tenant_readiness(tenant=tenant))


class TenantBulkReplaceView(ProjectCommand, run=services.tenants_bulk_replace_target, body=p.TenantBulkReplaceSerializer,
                            answer=p.TenantBulkReplaceAnswer,
                            summary="Find and replace in a target field of every tenant (literal text)"):
    pass


class TenantConfirmAllView(ProjectCommand, run=services.tenants_confirm_all, answer=StatusAnswer,
                           summary="Confirm every tenant's target names"):
    pass


# --- dependencies ------------------------------------------------------------------------------------------------


class DependencyListView(PlannerView):
    @extend_schema(parameters=[p.DependencyQuerySerializer], responses={200: p.DependencyListAnswer}, tags=TAGS,
                   summary="VM dependency pairs (optionally of one VM)")
    def get(self, request, project_id):
        project = services.project_get(project_id)
        query = validated(p.DependencyQuerySerializer, request.query_params.dict(), what="the query")
        return ok({"dependencies": p.DependencySerializer(
            selectors.dependencies(project, query.get("vm_id")), many=True).data})


class DependencyCreateView(PlannerView):
    @extend_schema(request=p.DependencyCreateSerializer, responses={201: p.DependencyAnswer, **errors(409)},
                   tags=TAGS, summary="The VM must complete before depends_on_vm_id starts (409 on a cycle)")
    def post(self, request, project_id, vm_id):
        project = services.project_get(project_id)
        vm = services.vm_get(project, vm_id)
        data = validated(p.DependencyCreateSerializer, request.data)
        dependency = services.dependency_create(project=project, vm=vm, data=data)
        return ok({"dependency": p.DependencySerializer(selectors.dependencies(project).get(pk=dependency.pk)).data},
                  status=201)


class DependencyDeleteView(PlannerView):
    @extend_schema(responses={200: StatusAnswer}, tags=TAGS, summary="Remove a dependency")
    def delete(self, request, project_id, vm_id, dep_id):
        vm = services.vm_get(services.project_get(project_id), vm_id)
        services.dependency_delete(vm=vm, dep_id=dep_id)
        return ok({"status": "ok"})


# --- network mappings --------------------------------------------------------------------------------------------


class NetworkMappingListView(PlannerView):
    @extend_schema(responses={200: p.NetworkMappingListAnswer}, tags=TAGS,
                   summary="Source -> CloudStack network mappings (new source networks seeded unconfirmed)")
    def get(self, request, project_id):
        project = services.project_get(project_id)
        services.network_mappings_seed(project=project)
        rows, unconfirmed = selectors.network_mappings(project)
        return ok({"mappings": p.NetworkMappingSerializer(rows, many=True).data, "unconfirmed_count": unconfirmed})

    @extend_schema(request=p.NetworkMappingCreateSerializer, responses={200: p.NetworkMappingAnswer,
                                                                        201: p.NetworkMappingAnswer}, tags=TAGS,
                   summary="Create or update the mapping of a source network")
    def post(self, request, project_id):
        project = services.project_get(project_id)
        data = validated(p.NetworkMappingCreateSerializer, request.data)
        mapping, created = services.network_mapping_upsert(project=project, data=data)
        return ok({"mapping": p.NetworkMappingSerializer(mapping).data}, status=201 if created else 200)


class NetworkMappingDetailView(PlannerView):
    access = {"delete": ADMIN}

    @extend_schema(request=p.NetworkMappingUpdateSerializer, responses={200: p.NetworkMappingAnswer}, tags=TAGS,
                   summary="Change a mapping's target, VLAN or confirmation")
    def patch(self, request, project_id, mapping_id):
        mapping = services.network_mapping_get(services.project_get(project_id), mapping_id)
        data = validated(p.NetworkMappingUpdateSerializer, request.data)
        return ok({"mapping": p.NetworkMappingSerializer(services.network_mapping_update(mapping=mapping,
                                                                                       data=data)).data})

    @extend_schema(responses={200: StatusAnswer}, tags=TAGS, summary="Delete a mapping")
    def delete(self, request, project_id, mapping_id):
        services.network_mapping_delete(mapping=services.network_mapping_get(services.project_get(project_id),
                                                                             mapping_id))
        return ok({"status": "ok"})


class NetworkBulkReplaceView(ProjectCommand, run=services.network_mappings_bulk_replace, body=p.BulkReplaceSerializer,
                             answer=p.NetworkBulkReplaceAnswer,
                             summary="Find and replace in every mapping's target network name (literal text)"):
    pass


class NetworkConfirmAllView(ProjectCommand, run=services.network_mappings_confirm_all, answer=StatusAnswer,
                            summary="Confirm every mapping"):
    pass


# --- cohorts -----------------------------------------------------------------------------------------------------


class CohortListView(PlannerView):
    @extend_schema(responses={200: p.CohortListAnswer}, tags=TAGS, summary="Cohorts (waves) with their totals")
    def get(self, request, project_id):
        project = services.project_get(project_id)
        return ok(p.CohortListAnswer({"cohorts": selectors.cohorts(project),
                                      "unassigned_tenant_count": selectors.unassigned_tenant_count(project)}).data)

    @extend_schema(request=p.CohortWriteSerializer, responses={201: p.CohortAnswer, **errors(409)}, tags=TAGS,
                   summary="Create a cohort")
    def post(self, request, project_id):
        project = services.project_get(project_id)
        data = validated(p.CohortWriteSerializer, request.data)
        data.setdefault("cohort_order", services.cohort_next_order(project))
        cohort = services.cohort_create(project=project, data=data)
        return ok({"cohort": p.CohortSerializer(selectors.cohorts(project).get(pk=cohort.pk)).data}, status=201)


class CohortDetailView(PlannerView):
    @extend_schema(request=p.CohortWriteSerializer, responses={200: p.CohortAnswer, **errors(409)}, tags=TAGS,
                   summary="Change a cohort")
    def patch(self, request, project_id, cohort_id):
        project = services.project_get(project_id)
        cohort = services.cohort_get(project, cohort_id)
        data = validated(p.CohortWriteSerializer, request.data, partial=True)
        services.cohort_update(cohort=cohort, data=data)
        return ok({"cohort": p.CohortSerializer(selectors.cohorts(project).get(pk=cohort.pk)).data})

    @extend_schema(responses={200: StatusAnswer}, tags=TAGS, summary="Delete a cohort (its tenants unassigned)")
    def delete(self, request, project_id, cohort_id):
        services.cohort_delete(cohort=services.cohort_get(services.project_get(project_id), cohort_id))
        return ok({"status": "ok"})


class AssignTenantsView(PlannerView):
    @extend_schema(request=p.AssignTenantsSerializer, responses={200: p.AssignTenantsAnswer}, tags=TAGS,
                   summary="Assign tenants to a cohort (cohort 0: unassign them)")
    def post(self, request, project_id, cohort_id):
        project = services.project_get(project_id)
        cohort = None if cohort_id == "0" else services.cohort_get(project, cohort_id)
        data = validated(p.AssignTenantsSerializer, request.data)
        return ok(services.cohort_assign_tenants(project=project, cohort=cohort, tenant_ids=data["tenant_ids"],
                                                 replace=data["replace"]))


class CohortSummaryView(PlannerView):
    @extend_schema(responses={200: p.CohortSummaryAnswer}, tags=TAGS,
                   summary="A cohort's totals, estimated hours and status breakdown")
    def get(self, request, project_id, cohort_id):
        project = services.project_get(project_id)
        return ok(selectors.cohort_summary(project, services.cohort_get(project, cohort_id)))


class AutoAssignView(PlannerView):
    @extend_schema(request=None, parameters=[p.AutoAssignQuerySerializer],
                   responses={200: p.AutoAssignAnswer, **errors(409)}, tags=TAGS,
                   summary="Assign every unassigned tenant to a cohort (dependencies kept)")
    def post(self, request, project_id):
        project = services.project_get(project_id)
        query = validated(p.AutoAssignQuerySerializer, request.query_params.dict(), what="the query")
        return ok(services.cohorts_auto_assign(project=project, strategy=query["strategy"]))


class CohortReadinessView(PlannerView):
    @extend_schema(responses={200: p.CohortReadinessAnswer}, tags=TAGS,
                   summary="Readiness of every tenant in the cohort, and the cohort's overall status")
    def get(self, request, project_id, cohort_id):
        cohort = services.cohort_get(services.project_get(project_id), cohort_id)
        return ok(services.cohort_readiness_summary(cohort=cohort))
