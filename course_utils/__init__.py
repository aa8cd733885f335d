"""Companion package for the course *Interpreting Deep Networks*.

One module per topic; notebooks import from here and never copy code.
"""
__version__ = "0.1.0"
