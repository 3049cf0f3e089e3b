"""The options an operation takes in the console, as the API takes them (same names, same defaults)."""
from __future__ import annotations

from django import forms

from apps.failover.services import parse_duration


class SyncForm(forms.Form):
    bandwidth_limit_mbps = forms.FloatField(
        required=False, min_value=1, label="Bandwidth cap (MiB/s per disk)",
        help_text="Empty: the agent's default. As the API's bandwidth_limit_mbps.")

    def options(self) -> dict:
        mbps = self.cleaned_data.get("bandwidth_limit_mbps")
        return {"bandwidth_limit": int(mbps * 1024 * 1024) if mbps else None}


class TestFailoverForm(forms.Form):
    test_duration = forms.CharField(
        initial="1h", max_length=32,
        help_text="How long the test VM may run, e.g. 30m, 2h, 4h30m. With automatic cleanup it is ended then.")
    auto_cleanup = forms.BooleanField(required=False, initial=True,
                                      help_text="End the test by itself once its duration is over")

    def clean_test_duration(self):
        value = self.cleaned_data["test_duration"]
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if seconds <= 0:
            raise forms.ValidationError("The duration must be longer than zero")
        self.cleaned_data["test_duration_seconds"] = seconds
        return value

    def options(self) -> dict:
        data = self.cleaned_data
        return {"test_duration": data["test_duration"], "test_duration_seconds": data["test_duration_seconds"],
                "auto_cleanup": data["auto_cleanup"]}


class LiveFailoverForm(forms.Form):
    power_off_source = forms.BooleanField(
        required=False, initial=True,
        help_text="Shut the source VM down in vCenter before the last sync (the default), so nothing changes on it "
                  "after its data was copied")
    final_sync = forms.BooleanField(required=False, initial=True,
                                    help_text="Run a last incremental sync before the cut-over (the default)")

    def options(self) -> dict:
        return {"power_off_source": self.cleaned_data["power_off_source"],
                "final_sync": self.cleaned_data["final_sync"]}


class MappingForm(forms.Form):
    source_network_name = forms.CharField(max_length=255)
    is_test_network = forms.BooleanField(required=False)
    destination_network_id = forms.CharField(max_length=255, help_text="CloudStack network id or name")


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, initial="rejected in the console")


class GroupForm(forms.Form):
    group = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, groups=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups


class CancelWaveForm(forms.Form):
    stop_running = forms.BooleanField(required=False, initial=False,
                                      help_text="Also roll back the failovers already running (default: let them "
                                                "end); a rehearsal always ends its test failovers")


class RehearsalForm(forms.Form):
    name = forms.CharField(max_length=255, required=False, help_text='Empty: "<wave> rehearsal <n>"')


class WaveWindowForm(forms.Form):
    window_start = forms.DateTimeField(help_text="From then the wave's VMs start (server time, YYYY-MM-DD HH:MM)")
    deadline = forms.DateTimeField(help_text="No VM of the wave starts after this")

