"""The web UI's basic-auth credentials, shared by the edges that serve over HTTP (the
Gradio UI and the MCP server's HTTP transport), so both read and check them one way."""

from __future__ import annotations

from assistant import ConfigError, Settings


def ui_credentials(settings: Settings) -> tuple[str, str] | None:
    """``(user, password)`` from ``PAPERLENS_UI__AUTH_USER``/``__AUTH_PASSWORD``, or None
    when neither is set; exactly one set is a `ConfigError` (a half-configured lock would
    otherwise leave the server open)."""
    ui = settings.ui
    if not (ui.auth_user or ui.auth_password):
        return None
    if not (ui.auth_user and ui.auth_password):
        raise ConfigError(
            "Basic auth needs both PAPERLENS_UI__AUTH_USER and PAPERLENS_UI__AUTH_PASSWORD."
        )
    return ui.auth_user, ui.auth_password.get_secret_value()
