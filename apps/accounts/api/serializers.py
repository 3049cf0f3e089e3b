"""The answers and request bodies of seed 004's user, monitoring, department/navigation, branding and notification
endpoints (field names as the seed spells them)."""
from __future__ import annotations

import re

from django.contrib.auth import password_validation
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.fields import IsoDateTimeField
from apps.core.api.serializers import Plain, PlainSerializer, plain_answer

from .. import selectors
from ..choices import DeliveryMode, EventType, OverrideType, Severity
from ..models import Department, NavGroup, NavItem, Notification, NotificationPreference

HUMAN_ROLES = [str(r) for r in selectors.HUMAN_ROLES]
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class StatusSerializer(PlainSerializer):
    """The seed's acknowledgement: ``{"status": "saved" | "deleted" | ...}``."""

    plain = Plain("status")


class SavedSerializer(StatusSerializer):
    plain = Plain("id:int")


# --- users and roles -------------------------------------------------------------------------------------------------

DepartmentRefSerializer = plain_answer("DepartmentRefSerializer", "id:int name")


class UserSerializer(PlainSerializer):
    """One of our Django users as the portal shows them."""

    plain = Plain("id:int username email first_name last_name")
    enabled = serializers.BooleanField(source="is_active")
    role = serializers.SerializerMethodField(help_text="The highest role: admin, operator or viewer (null: none)")
    roles = serializers.SerializerMethodField()
    domain_id = serializers.SerializerMethodField(help_text='Always "default": our users live in one place')
    department = serializers.SerializerMethodField()
    last_login = IsoDateTimeField(allow_null=True)
    date_joined = IsoDateTimeField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_role(self, user):
        return selectors.highest_role(user)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_roles(self, user):
        return selectors.role_names(user)

    @extend_schema_field(serializers.CharField())
    def get_domain_id(self, user):
        return selectors.DEFAULT_DOMAIN

    @extend_schema_field(DepartmentRefSerializer(allow_null=True))
    def get_department(self, user):
        dept = selectors.department_of(user)
        return {"id": dept.pk, "name": dept.name} if dept else None


class UserWriteSerializer(serializers.Serializer):
    """Create a user (username, password and role required) or change one (any field)."""

    username = serializers.RegexField(r"^[\w.@+-]{1,150}$", required=False,
                                      error_messages={"invalid": "letters, digits and @.+-_ only, at most 150"})
    password = serializers.CharField(required=False, write_only=True, max_length=128)
    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    enabled = serializers.BooleanField(required=False)
    role = serializers.ChoiceField(choices=HUMAN_ROLES, required=False)
    department_id = serializers.IntegerField(required=False, allow_null=True)

    def validate_password(self, value):
        password_validation.validate_password(value)
        return value

    def validate(self, attrs):
        if self.context.get("create"):
            missing = [f for f in ("username", "password", "role") if not attrs.get(f)]
            if missing:
                raise serializers.ValidationError({f: "This field is required." for f in missing})
        elif "username" in attrs:
            raise serializers.ValidationError({"username": "A username cannot be changed"})
        return attrs


class RoleSerializer(PlainSerializer):
    id = serializers.CharField(help_text="The role's name: viewer, operator or admin")
    plain = Plain("name description")
    permissions = serializers.ListField(child=serializers.CharField(), help_text="Seed 004 permission strings held")
    plain_tail = Plain("user_count:int")


class RoleListSerializer(PlainSerializer):
    roles = RoleSerializer(many=True)
    plain = Plain("total:int")


class RoleAssignmentSerializer(PlainSerializer):
    plain = Plain("user_id:int username role_id role_name")
    project_id = serializers.CharField(allow_null=True, help_text="Always null: our roles hold platform-wide")
    plain_tail = Plain("domain_id")
    scope = serializers.CharField(help_text='"platform"')


class UserActivitySerializer(PlainSerializer):
    plain = Plain("user_id:int username role? enabled:bool last_login:datetime?")
    last_activity = IsoDateTimeField(allow_null=True, help_text="Latest of login, API use and reported access")
    sessions_started = serializers.IntegerField(help_text="Bearer sessions started in the period")
    plain_tail = Plain("active_sessions:int")
    console_actions = serializers.IntegerField(help_text="Changes made in the console in the period")
    audit_events = serializers.IntegerField(help_text="Agent enrollment actions (approve, revoke...) in the period")
    access_events = serializers.IntegerField(help_text="Accesses reported with POST /admin/user-access-log")
    replications_started = serializers.IntegerField(help_text="Replication jobs they started in the period")


class UserActivitySummarySerializer(PlainSerializer):
    plain = Plain("period_days:int total_users:int")
    active_users = serializers.IntegerField(help_text="Users with any activity in the period")
    users = UserActivitySerializer(many=True)


class AccessLogWriteSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    action = serializers.CharField(max_length=64)
    resource = serializers.CharField(max_length=255, required=False, allow_blank=True)
    details = serializers.DictField(required=False)


class AccessLogAnswerSerializer(StatusSerializer):
    plain = Plain("id:int timestamp:datetime")


# --- notifications ---------------------------------------------------------------------------------------------------

class SmtpStatusSerializer(serializers.Serializer):
    """The SMTP settings without their secret: ``smtp_has_auth`` says whether a login is configured."""

    smtp_enabled = serializers.BooleanField(source="enabled")
    smtp_host = serializers.CharField(source="host")
    smtp_port = serializers.IntegerField(source="port")
    smtp_use_tls = serializers.BooleanField(source="use_tls")
    smtp_use_ssl = serializers.BooleanField(source="use_ssl")
    smtp_has_auth = serializers.SerializerMethodField()
    smtp_username = serializers.CharField(source="username")
    smtp_from = serializers.CharField(source="from_address")
    smtp_timeout_seconds = serializers.IntegerField(source="timeout_seconds")

    @extend_schema_field(serializers.BooleanField())
    def get_smtp_has_auth(self, row):
        return bool(row.username)


class SmtpSettingsWriteSerializer(serializers.Serializer):
    """Change the SMTP settings; fields left out stay. ``smtp_password`` is stored encrypted and never shown: give
    it to replace the stored one, an empty string to remove it."""

    smtp_enabled = serializers.BooleanField(source="enabled", required=False)
    smtp_host = serializers.RegexField(r"^[A-Za-z0-9.\-:\[\]]{1,255}$", source="host", required=False,
                                       allow_blank=True, error_messages={"invalid": "a host name or IP address"})
    smtp_port = serializers.IntegerField(source="port", required=False, min_value=1, max_value=65535)
    smtp_use_tls = serializers.BooleanField(source="use_tls", required=False)
    smtp_use_ssl = serializers.BooleanField(source="use_ssl", required=False)
    smtp_username = serializers.CharField(source="username", required=False, allow_blank=True, max_length=255)
    smtp_password = serializers.CharField(source="password", required=False, allow_blank=True, max_length=512,
                                          write_only=True, trim_whitespace=False)
    smtp_from = serializers.EmailField(source="from_address", required=False)
    smtp_timeout_seconds = serializers.IntegerField(source="timeout_seconds", required=False, min_value=1,
                                                    max_value=120)

    def validate(self, attrs):
        if attrs.get("use_tls") and attrs.get("use_ssl"):
            raise serializers.ValidationError("smtp_use_tls (STARTTLS) and smtp_use_ssl (TLS from the start) "
                                              "exclude each other")
        return attrs


class NotificationPreferenceSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    created_at = IsoDateTimeField()
    updated_at = IsoDateTimeField()

    class Meta:
        model = NotificationPreference
        fields = ["id", "username", "event_type", "email", "enabled", "severity_min", "delivery_mode", "created_at",
                  "updated_at"]


class PreferenceWriteSerializer(serializers.Serializer):
    event_type = serializers.ChoiceField(choices=[c for c in EventType.values
                                                 if c not in (EventType.TEST_EMAIL, EventType.DIGEST)])
    email = serializers.EmailField()
    enabled = serializers.BooleanField(default=True)
    severity_min = serializers.ChoiceField(choices=Severity.choices, default=Severity.WARNING)
    delivery_mode = serializers.ChoiceField(choices=DeliveryMode.choices, default=DeliveryMode.IMMEDIATE)


class NotificationSerializer(serializers.ModelSerializer):
    sent_at = IsoDateTimeField(allow_null=True)
    created_at = IsoDateTimeField()

    class Meta:
        model = Notification
        fields = ["id", "username", "event_type", "event_id", "severity", "subject", "recipient", "status",
                  "attempts", "created_at", "sent_at", "error_message"]


class NotificationHistorySerializer(PlainSerializer):
    items = NotificationSerializer(many=True)
    plain = Plain("total:int limit:int offset:int")


class TestEmailSerializer(serializers.Serializer):
    recipient = serializers.EmailField()


class TestEmailAnswerSerializer(StatusSerializer):
    plain = Plain("message")
    id = serializers.IntegerField(help_text="The notification; GET /notifications/history shows its outcome")


class NotificationStatsSerializer(PlainSerializer):
    plain = Plain("total_sent:int total_failed:int total_pending:int total_preferences:int")
    active_users = serializers.IntegerField(help_text="Users with at least one enabled preference")
    plain_tail = Plain("last_sent_at:datetime?")
    events_by_type = serializers.DictField(child=serializers.IntegerField())


# --- branding and preferences ----------------------------------------------------------------------------------------

class BrandingSerializer(PlainSerializer):
    plain = Plain("company_name company_subtitle")
    company_logo_url = serializers.CharField(allow_null=True, help_text="null until a logo is uploaded")
    primary_color = serializers.CharField(help_text="#rrggbb")
    secondary_color = serializers.CharField(help_text="#rrggbb")
    plain_tail = Plain("login_hero_title login_hero_description login_hero_features:texts")


class BrandingWriteSerializer(serializers.Serializer):
    """Fields left out stay as they are."""

    company_name = serializers.CharField(required=False, max_length=100)
    company_subtitle = serializers.CharField(required=False, allow_blank=True, max_length=200)
    primary_color = serializers.RegexField(COLOR, required=False, error_messages={"invalid": "a colour as #rrggbb"})
    secondary_color = serializers.RegexField(COLOR, required=False, error_messages={"invalid": "a colour as #rrggbb"})
    login_hero_title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    login_hero_description = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    login_hero_features = serializers.ListField(child=serializers.CharField(max_length=200), required=False,
                                                max_length=12)


class LogoUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="PNG, JPEG, GIF, SVG or WebP, at most 2 MB")


LogoAnswerSerializer = plain_answer("LogoAnswerSerializer", "logo_url")


class PreferencesSavedSerializer(StatusSerializer):
    plain = Plain("username")


# --- departments and navigation --------------------------------------------------------------------------------------

class DepartmentSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True, default=0)
    created_at = IsoDateTimeField(read_only=True)
    updated_at = IsoDateTimeField(read_only=True)

    class Meta:
        model = Department
        fields = ["id", "name", "description", "sort_order", "is_active", "member_count", "created_at", "updated_at"]
        read_only_fields = ["id", "is_active"]
        # Uniqueness is the service's (an inactive department's name comes back as that department).
        extra_kwargs = {"name": {"validators": []}}


class NavGroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = NavGroup
        fields = ["id", "key", "label", "icon", "description", "sort_order", "is_active"]
        read_only_fields = ["id"]
        extra_kwargs = {"key": {"validators": []}}


class NavItemSerializer(serializers.ModelSerializer):
    nav_group_id = serializers.PrimaryKeyRelatedField(source="group", queryset=NavGroup.objects.all())

    class Meta:
        model = NavItem
        fields = ["id", "nav_group_id", "key", "label", "route", "icon", "resource", "sort_order", "is_active"]
        read_only_fields = ["id"]
        extra_kwargs = {"key": {"validators": []}}


class VisibilitySerializer(serializers.Serializer):
    department_id = serializers.IntegerField(read_only=True)
    department_name = serializers.CharField(read_only=True)
    nav_group_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=1000)
    nav_item_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=1000)


# A row of the matrix is a department, shown as everywhere else (its own class: the schema's component name).
class MatrixRowSerializer(DepartmentRefSerializer):
    pass


MatrixGroupSerializer = plain_answer("MatrixGroupSerializer", "id:int key label")
MatrixItemSerializer = plain_answer("MatrixItemSerializer", "nav_group_id:int", base=MatrixGroupSerializer)


class VisibilityMatrixSerializer(serializers.Serializer):
    departments = MatrixRowSerializer(many=True)
    nav_groups = MatrixGroupSerializer(many=True)
    nav_items = MatrixItemSerializer(many=True)
    matrix = serializers.DictField(child=serializers.DictField(child=serializers.BooleanField()),
                                   help_text="department id -> nav item id -> visible")


class OverrideSerializer(serializers.Serializer):
    nav_item_id = serializers.IntegerField()
    nav_item_key = serializers.CharField(source="nav_item.key", read_only=True)
    override_type = serializers.ChoiceField(choices=OverrideType.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    created_by = serializers.CharField(read_only=True)
    created_at = IsoDateTimeField(read_only=True)


class UserOverridesSerializer(PlainSerializer):
    plain = Plain("username")
    overrides = OverrideSerializer(many=True)


class DepartmentAssignSerializer(serializers.Serializer):
    department_id = serializers.IntegerField(allow_null=True, help_text="null: no department")


class DepartmentAssignedSerializer(StatusSerializer):
    plain = Plain("username department_id:int?")


MyNavItemSerializer = plain_answer("MyNavItemSerializer", "id:int key label route icon sort_order:int")


class MyNavGroupSerializer(PlainSerializer):
    plain = Plain("id:int key label icon sort_order:int")
    items = MyNavItemSerializer(many=True)


class MyProfileSerializer(PlainSerializer):
    plain = Plain("username role?")
    department = DepartmentRefSerializer(allow_null=True)


class MyNavigationSerializer(PlainSerializer):
    user = MyProfileSerializer()
    nav_groups = MyNavGroupSerializer(many=True)
    plain = Plain("permissions:texts")


# --- monitoring ------------------------------------------------------------------------------------------------------

class MetricsSerializer(serializers.Serializer):
    uptime_seconds = serializers.IntegerField(help_text="Since the answering web process started")
    request_count = serializers.IntegerField(help_text="Requests every web process answered since the counters began")
    avg_response_time_ms = serializers.FloatField()
    error_rate = serializers.FloatField(help_text="Share of requests answered with a server error (5xx)")
    active_sessions = serializers.IntegerField(help_text="Operators' live bearer sessions")


class PortalLogRecordSerializer(serializers.Serializer):
    timestamp = serializers.FloatField(help_text="Unix time")
    level = serializers.CharField()
    logger = serializers.CharField(help_text="Where the record comes from, e.g. apps.accounts.tasks")
    message = serializers.CharField(help_text="Secrets are scrubbed before a record is kept")


class LogsSerializer(PlainSerializer):
    logs = PortalLogRecordSerializer(many=True)
    plain = Plain("total:int limit:int")
