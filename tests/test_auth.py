"""Both HTTP edges (the Gradio UI and the MCP server) refuse a half-set basic-auth lock
before they listen: one of user and password alone would otherwise serve unprotected."""

from __future__ import annotations

import gradio as gr
import pytest

from assistant import ConfigError, Settings
from paperlens import mcp_server
from paperlens.auth import ui_credentials
from paperlens.web import server

HALF_SET = [{"auth_user": "ana"}, {"auth_password": "s3cret"}]
MESSAGE = "Basic auth needs both PAPERLENS_UI__AUTH_USER and PAPERLENS_UI__AUTH_PASSWORD."


def test_credentials_are_both_or_neither():
    assert ui_credentials(Settings()) is None
    both = Settings(ui={"auth_user": "ana", "auth_password": "s3cret"})
    assert ui_credentials(both) == ("ana", "s3cret")


@pytest.mark.parametrize("ui", HALF_SET)
def test_the_web_ui_refuses_a_half_set_lock_before_launching(ui: dict[str, str]):
    with gr.Blocks() as demo:
        gr.Markdown("never served")
    with pytest.raises(ConfigError) as err:
        server.serve(demo, Settings(ui=ui), port=0, prevent_thread_lock=True, quiet=True)
    assert str(err.value) == MESSAGE
    assert not demo.is_running


@pytest.mark.parametrize("ui", HALF_SET)
def test_the_mcp_http_server_refuses_a_half_set_lock(ui: dict[str, str]):
    with pytest.raises(ConfigError) as err:
        mcp_server.serve("http", port=0, settings=Settings(ui=ui))
    assert str(err.value) == MESSAGE
