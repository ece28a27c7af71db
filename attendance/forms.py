from django import forms

from people.models import Person

from .models import Group

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


class KioskForm(forms.Form):
    name = forms.CharField(max_length=200)
    location = forms.CharField(max_length=200, required=False)
    cooldown_minutes = forms.IntegerField(
        min_value=0, max_value=24 * 60, required=False, label="Cooldown (minutes)",
        help_text="A person is marked once in this time; empty: the default (10).",
    )  # fmt: skip
    groups = forms.ModelMultipleChoiceField(
        Group.objects.all(), required=False,
        help_text="None: a door log that marks anybody enrolled.",
    )  # fmt: skip
    opens_at = forms.TimeField(
        required=False, label="Opens at", widget=forms.TimeInput({"type": "time"})
    )
    closes_at = forms.TimeField(
        required=False, label="Closes at", widget=forms.TimeInput({"type": "time"})
    )

    def kiosk_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["groups"] = list(data["groups"])
        data["location"] = data.get("location") or ""
        return data


class GroupForm(forms.Form):
    name = forms.CharField(max_length=200)
    members = forms.ModelMultipleChoiceField(
        Person.objects.order_by("name"), required=False, widget=forms.SelectMultiple({"size": 10})
    )


class SessionForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    starts_at = forms.TimeField(label="Starts at", widget=forms.TimeInput({"type": "time"}))
    ends_at = forms.TimeField(label="Ends at", widget=forms.TimeInput({"type": "time"}))
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple, initial=[0, 1, 2, 3, 4]
    )
    late_after_minutes = forms.IntegerField(
        min_value=0, max_value=600, required=False, label="Late after (minutes)"
    )

    def session_fields(self) -> dict:
        data = dict(self.cleaned_data)
        if data.get("late_after_minutes") is None:
            data.pop("late_after_minutes", None)
        return data


class CorrectionAddForm(forms.Form):
    person = forms.ModelChoiceField(Person.objects.order_by("name"))
    at = forms.DateTimeField(label="When", widget=forms.DateTimeInput({"type": "datetime-local"}))
    reason = forms.CharField(max_length=500)
