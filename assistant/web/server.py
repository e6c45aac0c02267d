"""One server process: the Gradio UI at ``/`` and the OpenAI-compatible API at ``/v1`` on one FastAPI app."""

from __future__ import annotations

from ..config import Settings
from .guard import EdgeGuard
from .service import Service
from .sessions import ApiSessionReaper, bound_sessions


def build_blocks(settings: Settings, service: Service):
    """The queued Gradio Blocks over ``service``, with feedback recording."""
    from .chat import build_app

    blocks = build_app(service, _feedback_store(settings))
    # A bounded worker pool: an answer takes milliseconds of CPU, so a few workers serve many users.
    blocks.queue(default_concurrency_limit=settings.web_concurrency)
    return blocks


def create_server(settings: Settings, service: Service | None = None):
    """The FastAPI app serving the web UI and the API for ``settings``."""
    import gradio as gr
    from fastapi import FastAPI

    from .openai_api import create_router
    from .render import CSS, GRADIO_TRANSLATIONS, PAGE_SCRIPT

    service = service or Service(settings)
    api = FastAPI(title="政策通 API", docs_url=None, redoc_url=None)
    # Before mounting Gradio at "/", or Gradio's catch-all route would answer /v1/* itself.
    api.include_router(create_router(lambda: service.assistant, concurrency=settings.web_concurrency))
    blocks = build_blocks(settings, service)
    bound_sessions(blocks, settings.web_sessions)
    # show_error=False: an exception's Python text never reaches a browser or API client; the handlers
    # raise gr.Error with a Chinese message (chat.shown_errors), which Gradio shows regardless.
    app = gr.mount_gradio_app(api, blocks, path="/", css=CSS, js=PAGE_SCRIPT, footer_links=["api"], show_error=False,
                              i18n=gr.I18n(**GRADIO_TRANSLATIONS),
                              max_file_size=f"{settings.upload_max_mb}mb")
    # Gradio checks that a file named in a request was uploaded through it (not any readable server
    # file) only once `has_launched` is set, which launch() does and mount_gradio_app does not.
    # Without this, a forged admin upload could copy /tmp or working-directory files into the corpus
    # (tests/test_admin_http.py).
    blocks.has_launched = True
    return EdgeGuard(ApiSessionReaper(app, blocks), uploads_allowed=bool(settings.admin_password))


def _feedback_store(settings: Settings):
    from .feedback import FeedbackStore

    return FeedbackStore(settings.feedback_db)
