"""Web entry point: ``python app.py`` (or ``make run``) serves 政策通 on POLICY_HOST:POLICY_PORT."""

from __future__ import annotations

import sys

from assistant.config import Settings
from assistant.errors import PolicyError
from assistant.web import build_app


def main() -> int:
    try:
        settings = Settings.from_env()
        app = build_app(settings)
    except PolicyError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    app.launch(server_name=settings.host, server_port=settings.port, share=settings.share)
    return 0


if __name__ == "__main__":
    sys.exit(main())
