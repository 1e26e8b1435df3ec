"""Diff-2-in-1: a frozen diffusion model used both for dense perception and for creating labelled data."""

__version__ = "0.1.0"
