from django.apps import AppConfig


class IssuesConfig(AppConfig):
    name = "issues"
    verbose_name = "Newsletter issues"

    def ready(self) -> None:
        from core.mail import mail_context_register
        from issues.selectors import publication_mail_context

        # The confirmation, welcome and other transactional emails open with the masthead's name.
        mail_context_register(publication_mail_context)
