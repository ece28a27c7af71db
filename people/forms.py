from django import forms

from .models import ConsentBasis, Person


class PersonForm(forms.Form):
    name = forms.CharField(max_length=200)
    external_id = forms.CharField(
        max_length=100, required=False, label="External id",
        help_text="Your own reference (a staff or pupil number); unique.",
    )  # fmt: skip
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    consent_basis = forms.ChoiceField(
        choices=[("", "Choose…"), *ConsentBasis.choices],
        label="Consent basis",
        help_text="Why your organisation may process this person's face.",
    )
    consent_note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Consent note",
        help_text="Required when the basis is 'other'.",
    )  # fmt: skip
    consent_document = forms.FileField(
        required=False, label="Consent document", help_text="A signed form, as PDF or image."
    )

    def __init__(self, *args, instance: Person | None = None, **kwargs):
        if instance is not None and not args:
            kwargs.setdefault("initial", {})
        super().__init__(*args, **kwargs)
        if instance is not None:
            for name in ("name", "external_id", "notes", "consent_basis", "consent_note"):
                self.fields[name].initial = getattr(instance, name) or ""

    def clean(self):
        data = super().clean()
        if data.get("consent_basis") == ConsentBasis.OTHER and not data.get("consent_note"):
            self.add_error("consent_note", "Say what the basis is.")
        return data

    def person_fields(self) -> dict:
        return {
            name: self.cleaned_data.get(name, "")
            for name in ("name", "external_id", "notes", "consent_basis", "consent_note")
        }


class MergeForm(forms.Form):
    other = forms.ModelChoiceField(
        queryset=Person.objects.none(), label="Merge into this person", empty_label="Choose…"
    )

    def __init__(self, *args, exclude: Person, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["other"].queryset = Person.objects.exclude(pk=exclude.pk).order_by("name")
