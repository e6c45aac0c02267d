"""The assistant a server process shares between the web UI and the API, and its reload after reindexing.

Requests read ``service.assistant`` once and keep that object for the whole answer, so a reload (which
builds a complete new Assistant first and then swaps one reference) never shows a request half of
each index. The web front end calls only the public methods here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

from ..answer.assistant import Assistant
from ..config import Settings
from ..models import Clause, Hit
from ..search import lookup as lookups
from ..search.build import BuildReport, StageHook, build_index
from ..search.index import Index

# The most hits one /search call returns.
MAX_SEARCH_HITS = 50
# The longest a lookup field is read (a clause number, a keyword, a unit's name: a few dozen characters).
MAX_FIELD_CHARS = 200


class Service:
    """One server's assistant, and what the UI asks of it: answers, search, lookup, reload."""

    def __init__(self, settings: Settings, index: Index | None = None, *, today: dt.date | None = None):
        self.settings = settings
        self.today = today
        self._reload_lock = threading.Lock()
        self.assistant = Assistant.from_settings(settings, index=index, today=today)
        # The first encoder call, jieba's dictionaries, the index's lookups: paid at start, not by a user.
        self.assistant.warm()

    @property
    def index(self) -> Index:
        return self.assistant.index

    def search(self, query: str, k: int) -> list[Hit]:
        """Ranked clauses for keywords or a question, ``k`` clamped to 1–50; [] for an empty query.

        Raises:
            PolicyError: the search failed (e.g. the Chroma server is down).
        """
        if not (query or "").strip():
            return []
        return self.assistant.search(query, max(1, min(int(k), MAX_SEARCH_HITS)))

    def lookup(self, query: lookups.LookupQuery) -> list[Clause]:
        """Clauses matching every filter of ``query``, in document order (the 条款查询 tab); each field is read
        up to :data:`MAX_FIELD_CHARS` characters."""
        query = dataclasses.replace(query, **{f.name: str(getattr(query, f.name))[:MAX_FIELD_CHARS]
                                               for f in dataclasses.fields(query)})
        assistant = self.assistant
        return lookups.lookup(assistant.index, query, assistant.retriever.router)

    def units(self) -> list[str]:
        return lookups.units(self.index)

    def sections(self, doc_id: str = "") -> list[tuple[str, str]]:
        """The 章节 choices of ``doc_id`` (all documents: each with its document's name)."""
        return lookups.section_choices(self.index, doc_id)

    def documents(self) -> list[tuple[str, str]]:
        return lookups.documents(self.index)

    def levels(self) -> list[str]:
        return lookups.levels(self.index)

    def places(self) -> list[str]:
        return lookups.places(self.index)

    def regions(self) -> list[str]:
        """Areas to choose from: the deployment's, those with documents, and the areas enclosing them,
        most local first (any other area may be typed in)."""
        from ..regions import Regions

        regions = Regions.load()
        found = [regions.find(self.settings.region)] if self.settings.region else []
        found += [regions.by_code[d.region_code] for d in self.index.documents.values() if d.region_code in regions.by_code]
        chain = [r for region in found if region for r in regions.chain(region)]
        return list(dict.fromkeys(r.name for r in sorted(chain, key=lambda r: -len(r.code))))

    def reload(self, on_stage: StageHook | None = None) -> BuildReport:
        """Rebuild the index from the corpus (incrementally) and switch to it; ``on_stage`` is told each stage
        of the build as it begins.

        Raises:
            PolicyError: the build failed; the previous index stays in use.
        """
        with self._reload_lock:  # one rebuild at a time; readers are never blocked
            report = build_index(self.settings, on_stage=on_stage)
            # A new assistant over the new index, with the vocabularies read again from their files.
            self.assistant = Assistant.from_settings(self.settings, index=Index.open(self.settings), today=self.today)
            return report
