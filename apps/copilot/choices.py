"""The copilot's vocabularies: which engine answers, and a user's verdict on an answer."""
from django.db import models


class Backend(models.TextChoices):
    BUILTIN = "builtin", "Built-in intent matcher (nothing leaves the platform)"
    OLLAMA = "ollama", "Ollama (its OpenAI-compatible API)"
    OPENAI = "openai", "OpenAI or any OpenAI-compatible server"
    ANTHROPIC = "anthropic", "Anthropic (its Messages API)"


class Feedback(models.TextChoices):
    UP = "up", "Helpful"
    DOWN = "down", "Not helpful"
