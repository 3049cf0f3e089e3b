"""The copilot's vocabularies: which engine answers, and a user's verdict on an answer."""
from apps.core.choices import vocabulary

Backend = vocabulary("Backend", """
    builtin: Built-in intent matcher (nothing leaves the platform)
    ollama: Ollama (its OpenAI-compatible API)
    openai: OpenAI or any OpenAI-compatible server
    anthropic: Anthropic (its Messages API)
""")

Feedback = vocabulary("Feedback", """
    up: Helpful
    down: Not helpful
""")
