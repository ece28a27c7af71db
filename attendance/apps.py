from django.apps import AppConfig


class AttendanceConfig(AppConfig):
    """Kiosks, marks with cooldown, groups and sessions, the live wall,
    corrections and reports (a tenant app on people)."""

    name = "attendance"
    verbose_name = "Attendance"

    def ready(self) -> None:
        from people.signals import person_merging
        from tenants.access import Action
        from tenants.portal import register_count, register_nav

        from . import api_schema, tasks  # noqa: F401  (the auth's schema; the tasks' budgets)
        from .selectors import marks_today_count
        from .services import on_person_merging

        register_nav("Attendance", "attendance-wall")
        register_nav("Kiosks", "attendance-kiosks", action=Action.MANAGE)
        register_count("Marks today", marks_today_count)
        # Merged people keep their attendance (people does not import attendance).
        person_merging.connect(on_person_merging, dispatch_uid="attendance.merge")
