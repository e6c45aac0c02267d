"""Web entry point: ``python app.py`` (or ``make run``) serves 政策通 on POLICY_HOST:POLICY_PORT.

The chat UI is at ``/`` and the OpenAI-compatible API at ``/v1/chat/completions``, on one server.
With POLICY_SHARE on, Gradio's own launcher serves the UI with a public share link instead (the
share tunnel carries the Gradio app only, so ``/v1`` is not served then).
"""

from __future__ import annotations

import sys

from assistant.config import Settings
from assistant.errors import PolicyError


def main() -> int:
    try:
        settings = Settings.from_env()
        from assistant.web.server import build_blocks, create_server
        from assistant.web.service import Service

        service = Service(settings)
        if settings.share:
            from assistant.web.render import CSS

            build_blocks(settings, service).launch(server_name=settings.host, server_port=settings.port,
                                                   share=True, css=CSS)
            return 0
        server = create_server(settings, service)
    except PolicyError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    import uvicorn

    print(f"政策通已启动：http://{settings.host}:{settings.port}/", flush=True)
    uvicorn.run(server, host=settings.host, port=settings.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
