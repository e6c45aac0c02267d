"""Searching clauses: normalize and tokenize, build and open the index, route, and rank.

``text`` (normalization, jieba), ``encoders`` and ``vectorstore`` (dense vectors in Chroma), ``lexical``
(BM25), ``index`` (build and open a generation), ``routing`` (clause numbers, units, document
questions), ``glossary`` (everyday words → policy terms), ``retrieve`` (hybrid search), ``lookup``
(exact filters for hotline staff).
"""
