"""Domain errors: one typed tree, so the Teams layer can turn each into a friendly card.

Messages never contain message text or personal data, only ids and counts, because
errors end up in logs.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class IncidentNotFound(DomainError):
    """No incident has this id."""

    def __init__(self, incident_id: str) -> None:
        super().__init__(f"unknown incident: {incident_id}")
        self.incident_id = incident_id


class AccessDenied(DomainError):
    """The user may not see or change this incident."""

    def __init__(self, incident_id: str, user_id: str) -> None:
        super().__init__(f"user {user_id} may not access incident {incident_id}")
        self.incident_id = incident_id
        self.user_id = user_id


class InvalidTransition(DomainError):
    """The incident's state machine does not allow this move."""

    def __init__(self, incident_id: str, current: str, target: str) -> None:
        super().__init__(f"incident {incident_id}: {current} -> {target} is not allowed")
        self.incident_id = incident_id
        self.current = current
        self.target = target


class InvalidIncidentId(DomainError):
    """A string is not a well-formed incident id (KH-YYYY-NNNN)."""

    def __init__(self, value: str) -> None:
        super().__init__(f"not an incident id: {value!r} (expected e.g. KH-2026-0001)")
        self.value = value


class EvidenceError(DomainError):
    """Base of the evidence errors."""


class InvalidEvidence(EvidenceError):
    """An evidence item is malformed (bad hash, naive time, float in the data...)."""


class BlobNotFound(EvidenceError):
    """The blob store holds no file with this SHA-256."""

    def __init__(self, sha256: str) -> None:
        super().__init__(f"blob not found: {sha256}")
        self.sha256 = sha256


class BlobCorrupted(EvidenceError):
    """A stored file's content no longer matches its SHA-256."""

    def __init__(self, sha256: str, actual: str) -> None:
        super().__init__(f"blob {sha256} is corrupted (content hashes to {actual})")
        self.sha256 = sha256
        self.actual = actual


class BundleError(EvidenceError):
    """An export bundle is unreadable or fails verification."""


class ChainBroken(EvidenceError):
    """A case's evidence chain fails verification at entry ``seq``."""

    def __init__(self, case_id: str, seq: int, reason: str) -> None:
        super().__init__(f"evidence of {case_id} is broken at entry {seq}: {reason}")
        self.case_id = case_id
        self.seq = seq
        self.reason = reason


# --- Durable jobs (issue 5, item 4). Codes are short identifiers, never user text.


class JobError(DomainError):
    """Base of the job errors."""


class InvalidJobSpec(JobError):
    """A job spec is malformed (empty kind or key, params not a JSON object)."""


class JobNotFound(JobError):
    """No job has this id."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"unknown job: {job_id}")
        self.job_id = job_id


class LeaseLost(JobError):
    """This worker no longer holds the job's lease (expired and reclaimed, or cancelled)."""

    def __init__(self, job_id: str, worker_id: str) -> None:
        super().__init__(f"worker {worker_id} lost the lease of job {job_id}")
        self.job_id = job_id
        self.worker_id = worker_id


class RetryableJobError(JobError):
    """A handler hit a passing problem (throttling, timeout): run the job again later."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class PermanentJobError(JobError):
    """A handler hit a problem retrying cannot fix: the job fails with ``code``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
