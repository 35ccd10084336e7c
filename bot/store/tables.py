"""SQLAlchemy Core tables: the current schema, as the repositories see it.

The migrations in ``bot/store/migrations`` create exactly this; a test compares them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("year", Integer, nullable=False),
    Column("number", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("state", String(32), nullable=False),
    Column("department", String(200), nullable=False),
    Column("reporter_id", String(64), nullable=False),
    Column("reporter_name", String(200), nullable=False),
    Column("summary", Text, nullable=False),
    Column("counterparts", Text, nullable=False),  # JSON object of four lists
    Column("physical_threat", Boolean, nullable=False),
    Column("started_on", Date, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    UniqueConstraint("year", "number", name="uq_incidents_year_number"),
    Index("ix_incidents_reporter_id", "reporter_id"),
)

incident_targets = Table(
    "incident_targets",
    metadata,
    Column("incident_id", String(20), ForeignKey("incidents.id"), primary_key=True),
    Column("object_id", String(64), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("position", Integer, nullable=False),
    Index("ix_incident_targets_object_id", "object_id"),
)

incident_events = Table(
    "incident_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(20), ForeignKey("incidents.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("actor_name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("from_state", String(32), nullable=True),
    Column("to_state", String(32), nullable=True),
    Column("note", Text, nullable=False),
    Index("ix_incident_events_incident_id", "incident_id"),
)

# One row per year; incremented inside the transaction that inserts the incident, so a
# rolled-back insert gives its number back (no gaps) and concurrent ones queue on the row.
incident_sequences = Table(
    "incident_sequences",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("last", Integer, nullable=False),
)

# The chain head of each case and its lock row: appends lock it (FOR UPDATE on PostgreSQL)
# so concurrent writers queue and each chains after the previous one.
evidence_heads = Table(
    "evidence_heads",
    metadata,
    Column("case_id", String(20), ForeignKey("incidents.id"), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

evidence = Table(
    "evidence",
    metadata,
    Column("case_id", String(20), ForeignKey("incidents.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("dedup_key", String(512), nullable=True),
    Column("entry", Text, nullable=False),  # canonical JSON, exactly the hashed bytes
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("case_id", "dedup_key", name="uq_evidence_case_dedup"),
)


# --- Durable jobs (bot/jobs, issue 5 item 4; migration 0002_jobs) -------------------------
# Kept in this module, not in bot/jobs, so that the one ``metadata`` is complete as soon as
# it is imported: Alembic's env.py and the migrations-vs-tables test see every table
# without depending on someone having imported bot.jobs first.

# One row per job. ``params`` and ``checkpoint`` are JSON objects (Text, like
# ``counterparts``); ``lease_owner``/``lease_until`` say which worker runs it until when.
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("incident_id", String(64), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("params", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("progress_done", Integer, nullable=False),
    Column("progress_total", Integer, nullable=False),
    Column("checkpoint", Text, nullable=False),
    Column("last_error", String(200), nullable=True),
    Column("run_after", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(200), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    # Waiting out a transient fault (migration 0005): why, e.g. "permission-propagation".
    Column("wait_reason", String(64), nullable=True),
    # When a manager last resumed it: its deadline and permission window restart there.
    Column("resumed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("idempotency_key", name="uq_jobs_idempotency_key"),
    # Claiming scans by state and due time; the CLI and the thread card look up by incident.
    Index("ix_jobs_state_run_after", "state", "run_after"),
    Index("ix_jobs_incident_id", "incident_id"),
)

# At-most-once markers: a key is inserted before a non-idempotent side effect (sendMail of
# the cut-off declaration); the primary key makes exactly one inserter win, ever.
job_once_keys = Table(
    "job_once_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# The notice outbox (issue 12; migration 0012): a message that must reach someone (the
# staff member's "your case was sent to the managers", "protection finished") is stored
# before it is sent, under a sender's lease; a row whose sender died is sent by the next
# sweep. One row per key, ever (the same key as the old at-most-once marker).
notice_outbox = Table(
    "notice_outbox",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("incident_id", String(20), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("cards", Text, nullable=False),  # JSON: locale value -> card
    Column("attempts", Integer, nullable=False),
    Column("lease_owner", String(200), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("outcome", String(16), nullable=True),  # sent, unreachable, failed; NULL: due
    Index("ix_notice_outbox_incident_id", "incident_id"),
    Index("ix_notice_outbox_due", "outcome", "lease_until"),
)


# --- Teams registry (issue 5; migration 0003_registry) -------------------------------------
# Channels registered with `setup`, personal-chat conversation references for proactive
# messages, and each case's escalation thread: small JSON records by (kind, key).
registry = Table(
    "registry",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("value", Text, nullable=False),  # a JSON object
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Counters handed out atomically (e.g. the organisation mails' daily reference number).
counters = Table(
    "counters",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


# --- Case tasks (issue 13 item 8; migration 0004_case_tasks) ------------------------------
# What people must do after an approval: one row per (case, kind), with its owner, due
# date and who marked it done. Typed and queried like the rest of the model (reminders
# look up the open ones that are overdue), not a registry record.
case_tasks = Table(
    "case_tasks",
    metadata,
    Column("incident_id", String(20), ForeignKey("incidents.id"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("owner_id", String(64), nullable=False),
    Column("owner_name", String(200), nullable=False),
    Column("due", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True), nullable=True),
    Column("done_by", String(200), nullable=False),
    Index("ix_case_tasks_open_due", "done_at", "due"),
)


# --- Decisions and leases (issue 12; migration 0005) ---------------------------------------
# A manager's decision is part of its case: one row per incident, inserted in the same
# transaction as the state change and the approved jobs (bot/store/decisions.py).
decisions = Table(
    "decisions",
    metadata,
    Column("incident_id", String(20), ForeignKey("incidents.id"), primary_key=True),
    Column("decision", String(16), nullable=False),
    Column("by_id", String(64), nullable=False),
    Column("by_name", String(200), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("comment", Text, nullable=False),
    Column("actions", Text, nullable=False),  # JSON list of action kinds
)

# Each department's managers' channel, registered with `setup` there.
department_channels = Table(
    "department_channels",
    metadata,
    Column("department", String(200), primary_key=True),
    Column("channel_id", String(200), nullable=False),
    Column("service_url", String(500), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("registered_by", String(64), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

# Named leases: periodic work (reminders, monitoring prompts) runs once per period across
# instances; whoever takes the lease runs the period, an expired lease can be taken over.
leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
)

# --- The counterpart index (issue 15; migration 0008) --------------------------------------
# One row per (normalised counterpart key, case): ``email:…``, ``domain:…``, ``sns:…``
# (``bot.domain.linking.index_keys``). Written in the transaction that creates the case
# (counterparts never change afterwards), so linking a case and counting repeat
# counterparts are index lookups and aggregates instead of reading every case.
case_counterparts = Table(
    "case_counterparts",
    metadata,
    Column("key", String(320), primary_key=True),
    Column("incident_id", String(20), ForeignKey("incidents.id"), primary_key=True),
    Index("ix_case_counterparts_incident_id", "incident_id"),
)


# --- Organisational cases (issue 15; migration 0009) ----------------------------------------
# Linked cases a manager grouped. Membership rows are history: taking a case out sets
# ``left_at``, nothing is deleted. Each member's evidence stays in its own chain.
org_cases = Table(
    "org_cases",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by_id", String(64), nullable=False),
    Column("created_by_name", String(200), nullable=False),
)

org_case_members = Table(
    "org_case_members",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", String(40), ForeignKey("org_cases.id"), nullable=False),
    Column("incident_id", String(20), ForeignKey("incidents.id"), nullable=False),
    Column("joined_at", DateTime(timezone=True), nullable=False),
    Column("joined_by_id", String(64), nullable=False),
    Column("joined_by_name", String(200), nullable=False),
    Column("left_at", DateTime(timezone=True), nullable=True),
    Column("left_by_id", String(64), nullable=False),
    Column("left_by_name", String(200), nullable=False),
    Index("ix_org_case_members_incident_id", "incident_id"),
    Index("ix_org_case_members_org_id", "org_id"),
)

# Two organisational cases merged (migration 0011): every member of ``from_org`` moved into
# ``into_org`` (their rows in ``from_org`` were marked left, new rows in ``into_org``). The
# emptied organisational case stays; this row says where its members went. Insert-only.
org_case_merges = Table(
    "org_case_merges",
    metadata,
    Column("from_org", String(40), ForeignKey("org_cases.id"), primary_key=True),
    Column("into_org", String(40), ForeignKey("org_cases.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by_id", String(64), nullable=False),
    Column("by_name", String(200), nullable=False),
    Column("moved", Text, nullable=False),  # the case ids that moved, comma-separated
    Index("ix_org_case_merges_into_org", "into_org"),
)

# --- Flood watch state (issue 15; migration 0010) ------------------------------------------
# Was one registry record per mailbox rewritten whole each round; now a round writes what
# it brought (bot/store/flood.py): new message keys, per-minute increments, the position.
flood_mailboxes = Table(
    "flood_mailboxes",
    metadata,
    Column("mailbox", String(320), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("reason", String(16), nullable=False),
    Column("stopped_at", DateTime(timezone=True), nullable=True),
    Column("cursor", Text, nullable=False),  # the delta link ("" = a new round)
    Column("last_sync", DateTime(timezone=True), nullable=True),
    Column("subscription_id", String(200), nullable=True, unique=True),
    Column("subscription_expires", DateTime(timezone=True), nullable=True),
    Column("client_state", String(200), nullable=False),
)

# Messages already counted (a 64-bit hash of the id) with their minute: replayed or
# overlapping rounds count nothing twice, across restarts and instances.
flood_seen = Table(
    "flood_seen",
    metadata,
    Column("mailbox", String(320), primary_key=True),
    Column("message_key", String(16), primary_key=True),
    Column("minute", Integer, nullable=False),
    Index("ix_flood_seen_mailbox_minute", "mailbox", "minute"),
)

# Mails per (mailbox, sender, minute, subject hash) over the last day.
flood_counts = Table(
    "flood_counts",
    metadata,
    Column("mailbox", String(320), primary_key=True),
    Column("sender", String(320), primary_key=True),
    Column("minute", Integer, primary_key=True, autoincrement=False),
    Column("subject", String(16), primary_key=True),
    Column("count", Integer, nullable=False),
    Index("ix_flood_counts_mailbox_minute", "mailbox", "minute"),
)

# One alert per (mailbox, sender): when announced, its figures, silenced, the case started.
flood_alerts = Table(
    "flood_alerts",
    metadata,
    Column("mailbox", String(320), primary_key=True),
    Column("sender", String(320), primary_key=True),
    Column("alert_id", String(32), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("figures", Text, nullable=False),  # FloodFigures.to_json()
    Column("silenced_by", String(200), nullable=False),
    Column("case_id", String(20), nullable=False),
)
