import mimetypes
import re

from django.contrib import messages
from django.contrib.auth.views import LoginView
from django.core.exceptions import SuspiciousOperation
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from . import selectors, services
from .access import Action, member_required
from .forms import ROLE_CHOICES, EmailAuthenticationForm, MemberAddForm, MemberRoleForm
from .portal import dashboard_counts
from .roles import Role


class PortalLoginView(LoginView):
    template_name = "tenants/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


@member_required(Action.VIEW)
def dashboard(request):
    return render(request, "tenants/dashboard.html", {"counts": dashboard_counts()})


_MANAGE_MEMBERS = "Only owners and admins manage members."


@member_required(Action.MANAGE, _MANAGE_MEMBERS)
def members(request):
    form = MemberAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        password = services.generate_password()
        try:
            services.member_add(
                actor=request.user,
                email=email,
                role=Role(form.cleaned_data["role"]),
                password=password,
            )
        except services.TenantError as exc:
            form.add_error("role" if isinstance(exc, services.MemberRefused) else "email", str(exc))
        else:
            # Kept as safe HTML through the message storage: the password in its own
            # element, for the copy button (static/js/portal.js).
            messages.success(
                request,
                format_html(
                    "Added {}. Their password, shown once: "
                    '<code id="one-time-password">{}</code> '
                    '<button type="button" class="secondary" data-copy="one-time-password">'
                    "Copy password</button>",
                    email,
                    password,
                ),
                extra_tags="one-time-password",
            )
            return redirect("members")
    return render(
        request,
        "tenants/members.html",
        {
            "members": selectors.member_list(),
            "form": form,
            "roles": ROLE_CHOICES,
            "history": selectors.member_history(),
        },
    )


def _member_role(request, user):
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        raise services.MemberRefused("Choose one of the roles.")
    role = Role(form.cleaned_data["role"])
    services.member_change_role(actor=request.user, user=user, role=role)
    return f"{user.email or user.username} is now {role.value}."


def _member_deactivate(request, user):
    services.member_deactivate(actor=request.user, user=user)
    return f"{user.email or user.username} is deactivated and signed out; they cannot sign in."


def _member_reactivate(request, user):
    services.member_reactivate(actor=request.user, user=user)
    return f"{user.email or user.username} can sign in again."


def _member_remove(request, user):
    email = user.email or user.username
    services.member_remove(actor=request.user, user=user)
    return f"{email} is removed."


MEMBER_ACTIONS = {
    "role": _member_role,
    "deactivate": _member_deactivate,
    "reactivate": _member_reactivate,
    "remove": _member_remove,
}


@require_POST
@member_required(Action.MANAGE, _MANAGE_MEMBERS)
def member_action(request, member_id: int, verb: str):
    """Change one member: their role, deactivate, reactivate, remove. Each is audited
    (tenants.services); the rules' refusals come back as messages on the list."""
    handler = MEMBER_ACTIONS.get(verb)
    if handler is None:
        raise Http404("No such action.")
    user = selectors.member_get(member_id=member_id)
    if user is None:
        messages.error(request, "That member was removed meanwhile.")
        return redirect("members")
    try:
        done = handler(request, user)
    except services.TenantError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("members")


@require_GET
@member_required(Action.VIEW)
def protected_media(request, path: str):
    """Serve a file from the current tenant's media prefix to its signed-in members.

    The storage resolves paths under MEDIA_ROOT/<schema>/ and refuses traversal,
    so a path can never reach another tenant's files. Byte ranges are honoured
    so that videos can be seeked.
    """
    try:
        if not default_storage.exists(path):
            raise Http404("No such file.")
        size = default_storage.size(path)
    except SuspiciousOperation:  # a traversal, refused by either storage
        raise Http404("No such file.") from None
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    byte_range = _parse_range(request.headers.get("Range", ""), size)
    # An object store (tenants.storage) is read in ranges or streamed, never
    # downloaded whole to serve a part of a video.
    ranged = getattr(default_storage, "read_range", None)
    if byte_range is None:
        stream = getattr(default_storage, "open_stream", None)
        handle = stream(path) if stream else default_storage.open(path, "rb")
        response = FileResponse(handle, content_type=content_type)
        response["Content-Length"] = str(size)
    else:
        start, end = byte_range
        if ranged:
            data = ranged(path, start, end)
        else:
            with default_storage.open(path, "rb") as handle:
                handle.seek(start)
                data = handle.read(end - start + 1)
        response = HttpResponse(data, status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["X-Content-Type-Options"] = "nosniff"
    return response


_MAX_RANGE = 8 * 1024 * 1024


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One ``bytes=start-end`` range, clamped to 8 MB a response; None for anything else."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not match or size == 0 or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":
        start, end = max(size - int(last), 0), size - 1
    else:
        start = int(first)
        end = min(int(last) if last else size - 1, size - 1)
    if start > end or start >= size:
        return None
    return start, min(end, start + _MAX_RANGE - 1)


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico whatever a page links: send them to the icon."""
    response = redirect(static("favicon.svg"), permanent=True)
    response["Cache-Control"] = "public, max-age=86400"
    return response


def public_landing(request):
    return render(request, "public/landing.html")
