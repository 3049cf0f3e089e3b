"""Seed 004's departments and navigation visibility: departments, navigation groups and items, which a department
sees, per-user overrides, a user's department, and the navigation a signed-in user gets."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.response import Response

from apps.core.api.detail import page_answer, page_of
from apps.core.api.validation import validated

from .. import selectors, services
from ..permissions import AUTHENTICATED
from . import serializers as s
from .base import AccountsView, errors

TAGS = ["portal: departments and navigation"]
DepartmentPage = page_of(s.DepartmentSerializer)
NavGroupPage = page_of(s.NavGroupSerializer)
NavItemPage = page_of(s.NavItemSerializer)


class DepartmentListView(AccountsView):
    requires = {"get": "departments:read", "post": "departments:admin"}

    @extend_schema(responses={200: DepartmentPage}, tags=TAGS, operation_id="portal_departments_list",
                   summary="The active departments")
    def get(self, request):
        return page_answer(s.DepartmentSerializer, request, selectors.departments())

    @extend_schema(request=s.DepartmentSerializer, responses={201: s.DepartmentSerializer, **errors(409)},
                   tags=TAGS, summary="Create a department (admin)")
    def post(self, request):
        row = services.department_save(**validated(s.DepartmentSerializer, request.data))
        return Response(s.DepartmentSerializer(row).data, status=201)


class DepartmentDetailView(AccountsView):
    requires = {"put": "departments:admin", "delete": "departments:admin"}

    @extend_schema(request=s.DepartmentSerializer, responses={200: s.DepartmentSerializer, **errors(409)},
                   tags=TAGS, summary="Change a department (admin; fields left out stay)")
    def put(self, request, dept_id):
        row = selectors.department(dept_id)
        row = services.department_save(row, **validated(s.DepartmentSerializer, request.data, partial=True))
        return Response(s.DepartmentSerializer(row).data)

    @extend_schema(responses={200: s.StatusSerializer}, tags=TAGS,
                   summary="Delete a department (admin): its people go back to the default navigation")
    def delete(self, request, dept_id):
        services.department_delete(selectors.department(dept_id))
        return Response(s.StatusSerializer({"status": "deleted"}).data)


class DepartmentVisibilityView(AccountsView):
    requires = {"get": "navigation:read", "put": "navigation:admin"}

    @extend_schema(responses={200: s.VisibilitySerializer}, tags=TAGS,
                   summary="The navigation groups and items a department sees")
    def get(self, request, dept_id):
        return Response(s.VisibilitySerializer(selectors.visibility(selectors.department(dept_id))).data)

    @extend_schema(request=s.VisibilitySerializer, responses={200: s.VisibilitySerializer}, tags=TAGS,
                   summary="Set what a department sees (admin; replaces the lists)")
    def put(self, request, dept_id):
        dept = selectors.department(dept_id)
        data = validated(s.VisibilitySerializer, request.data)
        services.visibility_set(dept, nav_group_ids=data["nav_group_ids"], nav_item_ids=data["nav_item_ids"])
        return Response(s.VisibilitySerializer(selectors.visibility(dept)).data)


class VisibilityMatrixView(AccountsView, tags=TAGS, answer=s.VisibilityMatrixSerializer,
                           read=selectors.visibility_matrix,
                           summary="Every department x every navigation item (admin's checkbox editor)"):
    requires = {"get": "navigation:admin"}


class _NavListView(AccountsView):
    """List (viewers) and create (admins) navigation rows: ``serializer`` shapes them, ``save`` writes them."""

    requires = {"get": "navigation:read", "post": "navigation:admin"}
    serializer: type[s.serializers.Serializer]
    save = staticmethod(services.nav_group_save)

    def get(self, request):
        return page_answer(self.serializer, request, self.serializer.Meta.model.objects.all())

    def post(self, request):
        row = self.save(**validated(self.serializer, request.data))
        return Response(self.serializer(row).data, status=201)


class _NavDetailView(AccountsView):
    """Change or delete one navigation row (admins); ``lookup`` finds it or answers 404."""

    requires = {"put": "navigation:admin", "delete": "navigation:admin"}
    serializer: type[s.serializers.Serializer]
    save = staticmethod(services.nav_group_save)
    lookup = staticmethod(selectors.nav_group)

    def put(self, request, pk):
        row = self.save(self.lookup(pk), **validated(self.serializer, request.data, partial=True))
        return Response(self.serializer(row).data)

    def delete(self, request, pk):
        self.lookup(pk).delete()
        return Response(s.StatusSerializer({"status": "deleted"}).data)


def _documented(kind: str, serializer, page, *, delete_note: str):
    """The schema of a list/create and a change/delete view of one kind of navigation row."""
    listing = extend_schema_view(
        get=extend_schema(responses={200: page}, tags=TAGS, operation_id=f"portal_nav_{kind}s_list",
                          summary=f"Navigation {kind}s"),
        post=extend_schema(request=serializer, responses={201: serializer, **errors(409)}, tags=TAGS,
                           summary=f"Create a navigation {kind} (admin)"))
    detail = extend_schema_view(
        put=extend_schema(request=serializer, responses={200: serializer, **errors(409)}, tags=TAGS,
                          summary=f"Change a navigation {kind} (admin; fields left out stay)"),
        delete=extend_schema(responses={200: s.StatusSerializer, **errors(409)}, tags=TAGS,
                             summary=f"Delete a navigation {kind} (admin; {delete_note})"))
    return listing, detail


_group_docs = _documented("group", s.NavGroupSerializer, NavGroupPage, delete_note="409 while it has items")
_item_docs = _documented("item", s.NavItemSerializer, NavItemPage,
                         delete_note="gone from every department and override")


@_group_docs[0]
class NavGroupListView(_NavListView):
    serializer = s.NavGroupSerializer


@_group_docs[1]
class NavGroupDetailView(_NavDetailView):
    serializer = s.NavGroupSerializer


@_item_docs[0]
class NavItemListView(_NavListView):
    serializer = s.NavItemSerializer
    save = staticmethod(services.nav_item_save)


@_item_docs[1]
class NavItemDetailView(_NavDetailView):
    serializer = s.NavItemSerializer
    save = staticmethod(services.nav_item_save)
    lookup = staticmethod(selectors.nav_item)


class UserOverridesView(AccountsView):
    requires = {"get": "navigation:admin", "post": "navigation:admin"}

    @extend_schema(responses={200: s.UserOverridesSerializer}, tags=TAGS,
                   summary="A user's own exceptions to their department's navigation (admin)")
    def get(self, request, username):
        user = selectors.user_by_name(username)
        rows = user.nav_overrides.select_related("nav_item")
        return Response(s.UserOverridesSerializer({"username": user.username, "overrides": rows}).data)

    @extend_schema(request=s.OverrideSerializer, responses={200: s.SavedSerializer}, tags=TAGS,
                   summary="Show (allow) or hide (deny) one item for one user (admin)")
    def post(self, request, username):
        user = selectors.user_by_name(username)
        data = validated(s.OverrideSerializer, request.data)
        row = services.override_set(user=user, nav_item=selectors.nav_item(data["nav_item_id"]),
                                    override_type=data["override_type"], reason=data["reason"], actor=request.user)
        return Response(s.SavedSerializer({"status": "saved", "id": row.pk}).data)


class UserOverrideDetailView(AccountsView):
    requires = {"delete": "navigation:admin"}

    @extend_schema(responses={200: s.StatusSerializer}, tags=TAGS, summary="Remove a user's override (admin)")
    def delete(self, request, username, nav_item_id):
        user = selectors.user_by_name(username)
        services.override_delete(user=user, nav_item=selectors.nav_item(nav_item_id))
        return Response(s.StatusSerializer({"status": "deleted"}).data)


class UserDepartmentView(AccountsView):
    requires = {"put": "users:admin"}

    @extend_schema(request=s.DepartmentAssignSerializer, responses={200: s.DepartmentAssignedSerializer},
                   tags=TAGS, summary="Put a user in a department (admin; null: none)")
    def put(self, request, username):
        user = selectors.user_by_name(username)
        data = validated(s.DepartmentAssignSerializer, request.data)
        services.user_set_department(user=user, department_id=data["department_id"])
        return Response(s.DepartmentAssignedSerializer({"status": "saved", "username": user.username,
                                                        "department_id": data["department_id"]}).data)


class MyNavigationView(AccountsView):
    requires = {"get": AUTHENTICATED}

    @extend_schema(responses={200: s.MyNavigationSerializer}, tags=TAGS,
                   summary="My navigation: profile, the groups and items I see, my permissions")
    def get(self, request):
        return Response(s.MyNavigationSerializer(selectors.navigation_for(request.user)).data)
