"""Reading documents: files in ``corpus/`` → :class:`~assistant.models.Document` → :class:`~assistant.models.Clause`.

``readers`` turns a .txt/.md/.docx/.pdf/.html file into text, ``ingest`` reads the folder and its
manifest into documents, ``structure`` splits each document into citable clauses.
"""
