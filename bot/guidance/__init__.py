"""Guidance for staff: the answer to a message (``answer``) and the urgent alert to
managers (``urgent``)."""
