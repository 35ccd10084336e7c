"""Training and evaluating the triage model from the labelled corpus in the repository.

``mamoru triage train`` (``make triage``) reads ``bot/triage/corpus/*.jsonl``,
splits it deterministically (a message is in the dev split when the SHA-256 of
its text falls in the last fifth), fits a logistic regression on the train split,
prints per-class precision/recall, the confusion matrix and the routing targets
on dev, and writes ``bot/triage/model.npz``. Same corpus and code → same file and
same model id, on any machine.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.domain.triage import PLAYBOOK_ROUTES, Route, TriagePolicy, Verdict, decide
from bot.triage.features import FEATURE_VERSION, features
from bot.triage.model import MODEL_PATH, LinearClassifier

CORPUS_DIR = Path(__file__).parent / "corpus"
# Messages written after a training run and never trained on: the honest figure of how
# the model generalises. Never move them into the corpus; write a new set instead.
HELDOUT = Path(__file__).parent / "heldout.jsonl"
# Each set, oldest first: heldout-2 was written before the v4 features were tried.
HELDOUT_SETS = (HELDOUT, Path(__file__).parent / "heldout-2.jsonl")
# Training settings; part of the model id.
C = 30.0
MAX_ITER = 3000
MIN_COUNT = 2  # a feature must occur in at least this many training messages
DEV_FIFTH = 4  # the sha256 bucket (0-4) that forms the dev split


class CorpusError(Exception):
    """A corpus line is not valid; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled message."""

    text: str
    label: str
    family: str
    source: str  # file:line, for error messages and the report

    @property
    def is_dev(self) -> bool:
        """Whether this message belongs to the dev split (stable: depends on the text only)."""
        return hashlib.sha256(self.text.encode("utf-8")).digest()[0] % 5 == DEV_FIFTH


def corpus_files(folder: Path = CORPUS_DIR) -> list[Path]:
    """The corpus files, in a fixed order."""
    return sorted(folder.glob("*.jsonl"))


def load_corpus(folder: Path = CORPUS_DIR) -> list[Example]:
    """Every labelled message; duplicates (same text) are kept once."""
    labels = {r.value for r in Route}
    seen: set[str] = set()
    examples = []
    for path in corpus_files(folder):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: not JSON ({exc})") from exc
            text, label = item.get("text"), item.get("label")
            if not isinstance(text, str) or not text.strip():
                raise CorpusError(f"{where}: 'text' must be a non-empty string")
            if label not in labels:
                raise CorpusError(f"{where}: unknown label {label!r}")
            if text in seen:
                continue
            seen.add(text)
            examples.append(Example(text, label, str(item.get("family", "")), where))
    if not examples:
        raise CorpusError(f"{folder}: no corpus files (*.jsonl)")
    return examples


def corpus_id(folder: Path = CORPUS_DIR) -> str:
    """The model id the corpus and this code give: corpus bytes + features + settings."""
    digest = hashlib.sha256()
    for path in corpus_files(folder):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(
        f"{FEATURE_VERSION}|C={C}|iter={MAX_ITER}|min={MIN_COUNT}|dev={DEV_FIFTH}".encode()
    )
    return "triage-" + digest.hexdigest()[:12]


def fit(examples: list[Example], model_id: str) -> LinearClassifier:
    """A logistic regression on the tf-idf features of ``examples`` (each group normalised)."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression

    grouped = [tuple(set(g) for g in features(e.text)) for e in examples]
    vocabulary: list[str] = []
    idf_values: list[float] = []
    blocks = []
    for group in range(2):
        counts = Counter(f for item in grouped for f in item[group])
        # Features seen in one message only mostly memorise it; drop them.
        kept = sorted(f for f, n in counts.items() if n >= MIN_COUNT)
        index = {f: i for i, f in enumerate(kept)}
        idf = np.array([math.log((1 + len(examples)) / (1 + counts[f])) + 1 for f in kept])
        rows, cols, values = [], [], []
        for row, item in enumerate(grouped):
            present = sorted(index[f] for f in item[group] if f in index)
            if not present:
                continue
            norm = math.sqrt(float((idf[present] ** 2).sum()))
            rows.extend([row] * len(present))
            cols.extend(present)
            values.extend(idf[present] / norm)
        blocks.append(csr_matrix((values, (rows, cols)), shape=(len(examples), len(kept))))
        vocabulary.extend(kept)
        idf_values.extend(idf)
    matrix = hstack(blocks).tocsr()
    labels = [r.value for r in Route]
    model = LogisticRegression(C=C, max_iter=MAX_ITER, class_weight="balanced")
    model.fit(matrix, [labels.index(e.label) for e in examples])
    idf_all = np.array(idf_values)
    weights = np.zeros((len(vocabulary), len(labels)), dtype=np.float64)
    bias = np.zeros(len(labels), dtype=np.float64)
    for k, class_index in enumerate(model.classes_):
        weights[:, class_index] = model.coef_[k] * idf_all
        bias[class_index] = model.intercept_[k]
    return LinearClassifier(vocabulary, idf_all, weights, bias, labels, model_id)


@dataclass(frozen=True, slots=True)
class Report:
    """The dev-set evaluation, as printed by ``mamoru triage train``."""

    text: str
    playbook_recall: dict[str, float]  # routed to the right playbook (policy applied)
    out_of_scope_to_playbook: float  # share of out-of-scope messages that opened a playbook
    safety_recall: float  # share of urgent-safety messages routed to the safety card
    misses: list[str]

    @property
    def meets_targets(self) -> bool:
        """Each playbook ≥ 0.95, out of scope → playbook ≤ 3 %, safety 100 %."""
        return (
            all(r >= 0.95 for r in self.playbook_recall.values())
            and self.out_of_scope_to_playbook <= 0.03
            and self.safety_recall == 1.0
        )


def evaluate(
    classifier: LinearClassifier, dev: list[Example], policy: TriagePolicy | None = None
) -> Report:
    """Per-class precision/recall of the model, and the targets once the policy decides."""
    policy = policy or TriagePolicy()
    labels = [r.value for r in Route]
    confusion = np.zeros((len(labels), len(labels)), dtype=int)
    routed: dict[str, Counter[str]] = {label: Counter() for label in labels}
    misses = []
    for example in dev:
        prediction = classifier.predict(example.text)
        best, _ = prediction.best()
        confusion[labels.index(example.label), labels.index(best.value)] += 1
        triage = decide(prediction, policy)
        outcome = (
            triage.route.value
            if triage.verdict is Verdict.ROUTE and triage.route
            else (triage.verdict.value)
        )
        routed[example.label][outcome] += 1
        if outcome != example.label and not (
            example.label == Route.OUT_OF_SCOPE and outcome in ("unrelated", "ask")
        ):
            misses.append(f"  {example.label} → {outcome}: {example.text[:80]}")
    lines = [f"dev split: {len(dev)} messages", "", "per class (the model's top label):"]
    lines.append(f"  {'label':<24} {'precision':>9} {'recall':>7} {'n':>5}")
    for i, label in enumerate(labels):
        predicted = confusion[:, i].sum()
        actual = confusion[i, :].sum()
        precision = confusion[i, i] / predicted if predicted else 0.0
        recall = confusion[i, i] / actual if actual else 0.0
        lines.append(f"  {label:<24} {precision:>9.3f} {recall:>7.3f} {actual:>5}")
    lines += ["", "confusion matrix (rows: true label, columns: predicted):"]
    short = [label[:10] for label in labels]
    lines.append("  " + " " * 24 + " ".join(f"{s:>10}" for s in short))
    for i, label in enumerate(labels):
        lines.append(f"  {label:<24}" + " ".join(f"{n:>10}" for n in confusion[i]))
    playbook_recall = {
        r.value: routed[r.value][r.value] / total
        for r in PLAYBOOK_ROUTES
        if (total := sum(routed[r.value].values()))
    }
    oos = routed[Route.OUT_OF_SCOPE.value]
    oos_total = sum(oos.values()) or 1
    oos_to_playbook = sum(n for k, n in oos.items() if k in {r.value for r in PLAYBOOK_ROUTES})
    safety = routed[Route.URGENT_SAFETY.value]
    safety_recall = safety[Route.URGENT_SAFETY.value] / (sum(safety.values()) or 1)
    lines += ["", "routing with the policy (safety override, ask-back):"]
    for label, recall in playbook_recall.items():
        mark = "ok" if recall >= 0.95 else "BELOW 0.95"
        lines.append(f"  {label:<24} recall {recall:.3f}  {mark}")
    lines.append(
        f"  out-of-scope → a playbook: {oos_to_playbook / oos_total:.1%} (target ≤ 3%); "
        f"asked back {oos['ask'] / oos_total:.1%}, friendly line {oos['unrelated'] / oos_total:.1%}"
    )
    lines.append(f"  urgent-safety → safety card: {safety_recall:.1%} (target 100%)")
    if misses:
        lines += ["", f"misrouted ({len(misses)}):", *misses]
    return Report(
        "\n".join(lines), playbook_recall, oos_to_playbook / oos_total, safety_recall, misses
    )


def heldout_report(classifier: LinearClassifier, path: Path = HELDOUT) -> str:
    """How the held-out messages route: harassment to the right route, office text to none."""
    if not path.exists():
        return ""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    playbooks = {r.value for r in PLAYBOOK_ROUTES}
    right = wrong_oos = 0
    misses = []
    for row in rows:
        triage = decide(classifier.predict(row["text"]), TriagePolicy())
        outcome = triage.route.value if triage.route else triage.verdict.value
        if row["label"] == Route.OUT_OF_SCOPE:
            wrong_oos += outcome in playbooks
            ok = outcome not in playbooks
        else:
            right += outcome == row["label"]
            ok = outcome == row["label"]
        if not ok:
            misses.append(f"  {row['label']} → {outcome}: {row['text'][:80]}")
    harassment = sum(1 for r in rows if r["label"] != Route.OUT_OF_SCOPE) or 1
    office = len(rows) - harassment or 1
    return "\n".join(
        [
            f"held out ({path.name}, never trained on): {len(rows)} messages; "
            f"harassment to the right route {right}/{harassment} ({right / harassment:.0%}), "
            f"out of scope → a playbook {wrong_oos}/{office}",
            *misses,
        ]
    )


def train(folder: Path = CORPUS_DIR, out: Path | None = MODEL_PATH) -> tuple[str, Report]:
    """Fit on the train split, evaluate on dev, save to ``out``; the model id and report."""
    examples = load_corpus(folder)
    model_id = corpus_id(folder)
    training = [e for e in examples if not e.is_dev]
    dev = [e for e in examples if e.is_dev]
    classifier = fit(training, model_id)
    report = evaluate(classifier, dev)
    if out is not None:
        classifier.save(out)
    counts = Counter(e.label for e in examples)
    english = sum(1 for e in examples if not _has_japanese(e.text))
    header = (
        f"model {model_id}: {len(examples)} messages ({len(training)} train, {len(dev)} dev), "
        f"{english / len(examples):.0%} English\n"
        + "  ".join(f"{label} {counts[label]}" for label in sorted(counts))
    )
    heldout = "\n\n".join(r for path in HELDOUT_SETS if (r := heldout_report(classifier, path)))
    return model_id, Report(
        header + "\n\n" + report.text + ("\n\n" + heldout if heldout else ""),
        report.playbook_recall,
        report.out_of_scope_to_playbook,
        report.safety_recall,
        report.misses,
    )


def _has_japanese(text: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" for ch in text)
