from django import forms

from .fields import EncryptedTextField


class SecretPreservingForm(forms.ModelForm):
    """Admin form whose secret fields are write-only: blank keeps the stored value, which is never rendered.

    The secrets are the model's encrypted fields unless a subclass names them in `secret_fields`."""

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.secret_fields:
            self.secret_fields = tuple(f.name for f in self._meta.model._meta.fields
                                       if isinstance(f, EncryptedTextField))
        for name in self.secret_fields:
            if name in self.fields:
                self.fields[name].widget = forms.PasswordInput(render_value=False)
                if self.instance.pk:
                    self.fields[name].required = False
                    self.fields[name].help_text = "Stored encrypted. Leave blank to keep the current value."

    def clean(self):
        cleaned = super().clean()
        for name in self.secret_fields:
            if self.instance.pk and not cleaned.get(name):
                cleaned[name] = getattr(type(self.instance).objects.get(pk=self.instance.pk), name)
        return cleaned
