from django import forms


class SecretPreservingForm(forms.ModelForm):
    """Admin form whose secret fields are write-only: blank keeps the stored value, which is never rendered."""

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
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
