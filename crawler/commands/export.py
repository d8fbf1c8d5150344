"""``crawler export RUN``: a run's items (or pages, or rejects) as CSV or JSON lines."""

from __future__ import annotations

import csv
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from crawler import default_settings
from crawler.storage.sql import SqlStore

if TYPE_CHECKING:
    import argparse


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("export", help="export a run's items, pages or rejects")
    p.add_argument("run_id", metavar="RUN", type=int, help="the run id (see `crawler runs`)")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.add_argument(
        "--what",
        choices=("items", "pages", "rejects"),
        default="items",
        help="items (default: those this run wrote), pages or rejects",
    )
    p.add_argument("--store", metavar="URL", default=default_settings.CRAWLER_STORE_URL)
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(run=run)


def _rows(store: SqlStore, what: str, run_id: int) -> list[dict[str, Any]]:
    if what == "pages":
        return store.pages(run_id)
    if what == "rejects":
        return [
            {"spec": r["spec"], "url": r["url"], "reason": r["reason"], **r["data"]}
            for r in store.rejects(run_id)
        ]
    return [{"spec": r["spec"], "url": r["url"], **r["data"]} for r in store.items(run_id=run_id)]


def write(rows: list[dict[str, Any]], fmt: str, out: TextIO) -> None:
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        return
    fields: dict[str, None] = {}
    for row in rows:
        fields.update(dict.fromkeys(row))
    writer = csv.DictWriter(out, fieldnames=list(fields))
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                for k, v in row.items()
            }
        )


def run(args: argparse.Namespace) -> int:
    store = SqlStore.open(args.store)
    try:
        if store.run(args.run_id) is None:
            print(f"error: there is no run {args.run_id} in {args.store}", file=sys.stderr)
            return 2
        rows = _rows(store, args.what, args.run_id)
    finally:
        store.close()
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as f:
            write(rows, args.format, f)
        print(f"{len(rows)} {args.what} written to {args.output}", file=sys.stderr)
    else:
        write(rows, args.format, sys.stdout)
    return 0
