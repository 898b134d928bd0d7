"""LLM-SOC's grading engine: a pytest plugin, a sandboxed worker and the ``llmsoc`` CLI."""

__version__ = "0.1.0"
