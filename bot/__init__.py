"""Mamoru (守る): protects municipal staff from customer harassment, in Microsoft Teams."""

__version__ = "0.1.0"
