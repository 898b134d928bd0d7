"""Shared set-up of the handout scripts that save figures."""

from __future__ import annotations

import argparse


def use_file_backend(parser: argparse.ArgumentParser) -> None:
    """Select matplotlib's file-only backend (Agg: PNGs, no window), or stop the script with a
    clear message when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        parser.error("the figures need matplotlib: pip install matplotlib")
    matplotlib.use("Agg")
