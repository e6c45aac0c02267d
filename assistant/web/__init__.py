"""Serving: the Gradio web app, the OpenAI-compatible API and the admin area, on one FastAPI server.

``server`` builds the app, ``service`` holds the shared assistant (and reloads it), ``chat`` the Gradio
Blocks, ``render`` escaped HTML, ``admin`` uploads, ``openai_api`` the ``/v1`` routes, ``feedback`` the
👍/👎 store. Nothing is imported here: importing a submodule must not load Gradio.
"""
