"""Agents SDK glue only: routes (one module per feature), replies, identity of the sender."""
