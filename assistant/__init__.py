"""政策通 (policy-assistant): answers SME financing-policy questions from policy documents, with clauses."""

__version__ = "0.1.0"
