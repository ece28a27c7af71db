from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
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


# Least access first: a new member is a viewer unless someone chooses more.
ROLE_CHOICES = [(role.value, role.value.title()) for role in reversed(Role)]


class EmailAdminAuthenticationForm(AdminAuthenticationForm):
    """The tenant admin's sign-in: accounts are e-mail addresses there too."""

    username = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": (
            "That e-mail address and password do not match an owner or admin of this organisation."
        ),
    }

    def clean_username(self):
        return self.cleaned_data["username"].lower()


class MemberAddForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Role.VIEWER.value)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)
