"""Tests of the organisation: departments configuration and the directory."""
