"""``mamoru triage train``: retrain the triage model from the corpus and print the dev report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``triage train``."""
    triage = subparsers.add_parser("triage", help="the message classifier")
    verbs = triage.add_subparsers(dest="triage_command", metavar="VERB", required=True)
    train = verbs.add_parser(
        "train", help="retrain from bot/triage/corpus and print the dev-split evaluation"
    )
    train.add_argument(
        "--check",
        action="store_true",
        help="do not write the model; exit 1 if the committed model is stale or misses a target",
    )
    train.add_argument(
        "--out", type=Path, help="where to write the model (default: the shipped one)"
    )
    train.set_defaults(handler=train_command)


def train_command(args: argparse.Namespace) -> int:
    """Train, print the report; exit 1 when a dev target is missed."""
    from bot.triage.model import MODEL_PATH, LinearClassifier, ModelFileError
    from bot.triage.train import CorpusError, train

    out = None if args.check else (args.out or MODEL_PATH)
    try:
        model_id, report = train(out=out)
    except CorpusError as exc:
        print(f"mamoru: corpus: {exc}", file=sys.stderr)
        return 2
    print(report.text)
    status = 0
    if args.check:
        try:
            shipped = LinearClassifier.load().model_id
        except ModelFileError as exc:
            print(f"mamoru: {exc}", file=sys.stderr)
            return 1
        if shipped != model_id:
            print(
                f"\nthe committed model ({shipped}) is not the corpus's ({model_id}): "
                "run `make triage` and commit bot/triage/model.npz",
                file=sys.stderr,
            )
            status = 1
    else:
        print(f"\nwrote {out} ({model_id})")
    if not report.meets_targets:
        print("dev targets missed (see above)", file=sys.stderr)
        status = 1
    return status
