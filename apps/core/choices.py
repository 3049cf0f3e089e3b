from django.db import models


class TokenKind(models.TextChoices):
    OPERATOR = "operator", "Operator session"
    AGENT = "agent", "Agent session"


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer (read)"
    OPERATOR = "operator", "Operator (start/stop work, edit config)"
    ADMIN = "admin", "Admin (approve agents, manage users)"
    AGENT = "agent", "Agent appliance"
