"""Vocabularies every app shares, and ``vocabulary``: a list of words declared once, as a TextChoices."""
from __future__ import annotations

import sys

from django.db import models


def vocabulary(name: str, words: str) -> type[models.TextChoices]:
    """A TextChoices of space-separated ``words``: each word is a stored value, its member the word in capitals
    (``vocabulary("Mode", "warm cold").WARM == "warm"``), its label Django's default ("Warm").

    For the vocabularies a seed spells (the words are the API's); a vocabulary with labels of its own, or members
    named otherwise than their values, stays a class.
    """
    module = sys._getframe(1).f_globals["__name__"]  # the caller's, as a class statement there would have it
    return models.TextChoices(name, [(word.upper(), word) for word in words.split()], module=module)


class TokenKind(models.TextChoices):
    OPERATOR = "operator", "Operator session"
    AGENT = "agent", "Agent session"


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer (read)"
    OPERATOR = "operator", "Operator (start/stop work, edit config)"
    ADMIN = "admin", "Admin (approve agents, manage users)"
    AGENT = "agent", "Agent appliance"
