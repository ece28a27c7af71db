from django import forms
from django.contrib.auth.forms import AuthenticationForm

from .roles import Role


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That e-mail address and password do not match an account here.",
    }

    def clean_username(self):
        return self.cleaned_data["username"].lower()


class MemberAddForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(choices=[(role.value, role.value.title()) for role in Role])
