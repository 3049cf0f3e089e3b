"""Vocabularies every app shares, and ``vocabulary``: a list of words declared once, as a TextChoices."""
from __future__ import annotations

import sys

from django.db import models


def vocabulary(name: str, words: str) -> type[models.TextChoices]:
    """A TextChoices of the whitespace-separated ``words``: each word is a stored value, its member the word in
    capitals (``vocabulary("Mode", "warm cold").WARM == "warm"``), its label Django's default, the member's name
    in title case ("Warm").

    A word that needs a label of its own has a line of its own, the label after a colon; the words without one
    may share a line. A member named otherwise than its value is written ``MEMBER=value`` (``NONE=""`` for the
    empty value)::

        RunStatus = vocabulary("RunStatus", '''
            running completed
            PARTIAL=completed_with_failures: Completed with failures
            failed
        ''')

    Why not a class: a TextChoices class spells every member as ``NAME = "value", "Label"``, so each vocabulary is
    a column of alike lines, and most of its labels only repeat the value in title case. Here a word is written
    once, and a label only where it says more than the word. The members, values, labels and their order are
    exactly those of the class it replaces (migrations record them).
    """
    members: list[tuple[str, str | tuple[str, str]]] = []
    for line in words.splitlines():
        head, colon, label = line.partition(":")
        tokens = head.split()
        if colon and not tokens:
            raise ValueError(f"{name}: a label without its word: {line.strip()!r}")
        for position, token in enumerate(tokens):
            member, renamed, value = token.partition("=")
            member, value = (member, value.strip('"')) if renamed else (token.upper(), token)
            labelled = colon and position == len(tokens) - 1  # the label is the last word's
            members.append((member, (value, label.strip()) if labelled else value))
    module = sys._getframe(1).f_globals["__name__"]  # the caller's, as a class statement there would have it
    return models.TextChoices(name, members, module=module)


TokenKind = vocabulary("TokenKind", """
    operator: Operator session
    agent: Agent session
""")

Role = vocabulary("Role", """
    viewer: Viewer (read)
    operator: Operator (start/stop work, edit config)
    admin: Admin (approve agents, manage users)
    agent: Agent appliance
""")
