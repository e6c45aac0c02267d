"""The assistant a server process shares between the web UI and the API, and its reload after reindexing.

Requests read ``service.assistant`` once and keep that object for the whole answer, so a reload (which
builds a complete new Assistant first and then swaps one reference) never shows a request half of
each index.
"""

from __future__ import annotations

import datetime as dt
import threading

from ..answer.assistant import Assistant
from ..config import Settings
from ..search.index import BuildReport, Index, build_index, open_index
from ..search.routing import Router


class Service:
    def __init__(self, settings: Settings, index: Index | None = None, *, today: dt.date | None = None):
        self.settings = settings
        self.today = today
        self._reload_lock = threading.Lock()
        self.assistant = Assistant(settings, index or open_index(settings), today=today)
        # The first encoder call pays for graph set-up (~1.5 s); pay it at start, not on a user's question.
        self.assistant.ask("创业担保贷款")

    @property
    def index(self) -> Index:
        return self.assistant.index

    @property
    def router(self) -> Router:
        return self.assistant.retriever.router

    def reload(self) -> BuildReport:
        """Rebuild the index from the corpus (incrementally) and switch to it.

        Raises:
            PolicyError: the build failed; the previous index stays in use.
        """
        with self._reload_lock:  # one rebuild at a time; readers are never blocked
            report = build_index(self.settings, progress=False)
            self.assistant = Assistant(self.settings, Index.open(self.settings), today=self.today)
            return report
