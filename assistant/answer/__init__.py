"""Answering: refuse or answer from retrieved clauses, compose the text, verify it, and cite.

``assistant`` holds :class:`Assistant` (the entry point), ``grounding`` the refusal decision and the
citation and number checks, ``compose`` the extractive answers, ``llm`` the optional chat-model composer.
"""
