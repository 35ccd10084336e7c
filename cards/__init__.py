"""Adaptive Cards 1.5 built by pure functions: domain object (+ locale) -> card dict."""
