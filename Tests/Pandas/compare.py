"""AURORA's statistics against pandas/numpy, file by file (issue 20).

For every CSV file given, runs `aurora profile --json`, validates the output against
Protocol/schemas/report/analysis-report.schema.json, reads the same table with pandas (as
strings, with AURORA's dialect and missing-value markers, so that both count the same cells) and
compares every statistic the learner or the user sees:
  - count, missing, missing_ratio: exactly;
  - distinct: exactly (numbers by value) when AURORA says `exact`, else within 5%;
  - numeric columns: mean, variance, std, skewness (pandas' skew()), kurtosis (kurt()), the seven
    quantiles (numpy's linear interpolation), min, max, zero/negative ratios and the IQR outlier
    ratio, within 1e-9 relative (to the column's scale for location statistics);
  - the type: every column pandas reads as numbers (its default read) is numeric for AURORA, or
    an identifier, or a boolean.
Exits 1 with a line per difference.

    python compare.py --aurora .build/debug/aurora [--schema FILE] FILE_OR_DIR...
"""
import argparse
import collections
import functools
import json
import math
import multiprocessing
import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")

# MissingMarkers.defaults in Sources/AuroraParser/Values/MissingMarkers.swift (matched after trimming spaces).
MARKERS = {"NA", "N/A", "n/a", "na", "NaN", "nan", "NAN", "null", "NULL", "Null", "None", "none", "NONE", "nil",
           "-", "--", "?", "#N/A", "#NA", "#N/A N/A", "<NA>", "missing", "Missing", "."}
LEVELS = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
NAMES = ["p01", "p05", "p25", "p50", "p75", "p95", "p99"]
TOLERANCE = 1e-9


def close(a, b, scale=1.0):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= TOLERANCE * max(abs(a), abs(b), scale)


def files(paths):
    for path in paths:
        if os.path.isdir(path):
            for root, _, names in os.walk(path):
                for name in sorted(names):
                    if name.lower().endswith((".csv", ".tsv", ".txt")):
                        yield os.path.join(root, name)
        else:
            yield path


def read_like_aurora(path, report):
    """The table as AURORA read it: its dialect, every cell a string (None when missing)."""
    file = report["file"]
    dialect = file["dialect"]
    encoding = {"UTF-8": "utf-8-sig", "windows-1252": "cp1252", "ISO-8859-1": "latin-1"}.get(file["encoding"], file["encoding"].lower())
    quote = dialect["quote"]
    frame = pd.read_csv(
        path, sep=dialect["delimiter"] or "\x1f", header=0 if dialect["header"] else None, skiprows=dialect["skipped_lines"],
        dtype=str, keep_default_na=False, na_filter=False, encoding=encoding, encoding_errors="replace",
        quoting=3 if quote is None else 0, quotechar=quote or '"',
        escapechar="\\" if dialect["escape"] == "\\" else None, skipinitialspace=dialect.get("skip_initial_space", False),
        engine="python", on_bad_lines="skip")
    return frame


def numeric_reference(values):
    """pandas' and numpy's figures for a list of floats."""
    x = np.asarray(values, dtype=float)
    s = pd.Series(x)
    q = np.percentile(x, [level * 100 for level in LEVELS])
    q1, q3 = np.percentile(x, [25, 75])
    iqr = q3 - q1
    skew = s.skew() if len(x) > 2 else 0.0
    kurt = s.kurt() if len(x) > 3 else 0.0
    return {
        "min": float(x.min()), "max": float(x.max()), "mean": float(s.mean()),
        "variance": float(s.var()) if len(x) > 1 else 0.0, "std": float(s.std()) if len(x) > 1 else 0.0,
        "skewness": 0.0 if skew is None or math.isnan(skew) else float(skew),
        "kurtosis": 0.0 if kurt is None or math.isnan(kurt) else float(kurt),
        "zero_ratio": float(np.mean(x == 0)), "negative_ratio": float(np.mean(x < 0)),
        "outlier_ratio": float(np.mean((x < q1 - 1.5 * iqr) | (x > q3 + 1.5 * iqr))),
        "quantiles": dict(zip(NAMES, map(float, q))), "distinct": int(s.nunique()),
    }


def compare_file(path, aurora, validator, problems, tally):
    run = subprocess.run([aurora, "profile", "--json", path], capture_output=True, text=True)
    if run.returncode != 0:
        tally["unreadable"] += 1
        if os.environ.get("AURORA_PANDAS_VERBOSE"): print(f"unreadable: {path}: {run.stderr.strip()}", file=sys.stderr)
        return
    report = json.loads(run.stdout)
    for error in validator.iter_errors(report) if validator else []:
        problems.append(f"{path}: schema: {error.json_path}: {error.message}")
    try:
        table = read_like_aurora(path, report)
        # A one-column file has no delimiter (""): a character the file lacks keeps pandas from sniffing one.
        default = pd.read_csv(path, sep=report["file"]["dialect"]["delimiter"] or "\x1f", skiprows=report["file"]["dialect"]["skipped_lines"],
                              header=0 if report["file"]["dialect"]["header"] else None, engine="python", on_bad_lines="skip",
                              encoding_errors="replace")
    except Exception as error:  # pandas cannot read it (AURORA could): nothing to compare
        tally["pandas_unreadable"] += 1
        return
    if len(table.columns) != len(report["columns"]) or len(table) != report["file"]["rows"]:
        tally["shape_differs"] += 1
        if os.environ.get("AURORA_PANDAS_VERBOSE"): print(f"shape differs: {path}", file=sys.stderr)
        return
    if report["file"]["malformed_rows"] > 0:
        # Rows with the wrong field count: AURORA pads them, pandas fails or skips; not comparable.
        tally["malformed_files"] += 1
        return
    tally["files"] += 1
    for position, column in enumerate(report["columns"]):
        where = f"{path}: column {position} ({column['type']})"
        stats = column["stats"]
        cells = table.iloc[:, position].fillna("")
        stripped = cells.str.strip()
        missing = (stripped == "") | stripped.isin(MARKERS)
        present = cells[~missing]
        tally["columns"] += 1
        if stats["count"] != len(cells):
            problems.append(f"{where}: count {stats['count']}, pandas {len(cells)}")
        if stats["missing"] != int(missing.sum()):
            problems.append(f"{where}: missing {stats['missing']}, pandas {int(missing.sum())}")
        if stats["missing_ratio"] != (float(missing.sum()) / len(cells) if len(cells) else 1.0):
            problems.append(f"{where}: missing_ratio {stats['missing_ratio']}, pandas {float(missing.sum()) / len(cells)}")
        numeric = stats["numeric"]
        numbers = pd.to_numeric(present.str.strip(), errors="coerce")
        parsed = numbers.dropna()
        if numeric is not None and column["type"] in ("integer", "float"):
            if len(parsed) != len(present) - stats["invalid"]:
                # AURORA reads forms pandas does not ("1,234", "$5", "5%", decimal commas): not comparable.
                tally["formatted_numbers"] += 1
                continue
            tally["numeric_columns"] += 1
            reference = numeric_reference(parsed.to_numpy())
            scale = max(abs(reference["min"]), abs(reference["max"]), 1e-300)
            for key in ["min", "max", "mean"]:
                if not close(numeric[key], reference[key], scale):
                    problems.append(f"{where}: {key} {numeric[key]!r}, pandas {reference[key]!r}")
            for key in ["variance", "std"]:
                if not close(numeric[key], reference[key], scale * scale if key == "variance" else scale):
                    problems.append(f"{where}: {key} {numeric[key]!r}, pandas {reference[key]!r}")
            if stats["exact"]:
                for key in ["skewness", "kurtosis", "zero_ratio", "negative_ratio", "outlier_ratio"]:
                    if not close(numeric[key], reference[key]):
                        problems.append(f"{where}: {key} {numeric[key]!r}, pandas {reference[key]!r}")
                for key in NAMES:
                    if not close(numeric["quantiles"][key], reference["quantiles"][key], scale):
                        problems.append(f"{where}: quantile {key} {numeric['quantiles'][key]!r}, numpy {reference['quantiles'][key]!r}")
                if stats["invalid"] == 0 and stats["distinct"] != reference["distinct"]:
                    problems.append(f"{where}: distinct {stats['distinct']}, pandas {reference['distinct']}")
        elif stats["exact"]:
            distinct = int(present.nunique())
            if stats["distinct"] != distinct:
                problems.append(f"{where}: distinct {stats['distinct']}, pandas {distinct}")
        else:
            distinct = int(present.nunique())
            if abs(stats["distinct"] - distinct) > 0.05 * max(distinct, 20):
                problems.append(f"{where}: distinct {stats['distinct']} (sketch), pandas {distinct}")
        # A column pandas reads as numbers stays numbers (or a numeric identifier, or a 0/1 boolean).
        if position < len(default.columns):
            series = default.iloc[:, position]
            if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series) and series.notna().any():
                tally["pandas_numeric"] += 1
                # Digits with leading zeros are codes (zip codes, account numbers), by design.
                codes = "leading zeros" in column["type_reason"]
                if column["type"] not in ("integer", "float", "identifier", "boolean") and not codes:
                    problems.append(f"{where}: pandas reads numbers, AURORA says {column['type']} ({column['type_reason']})")


VALIDATORS = {}


def check_file(path, aurora, schema):
    """One file in a worker process: its problems and tallies."""
    validator = None
    if schema:
        if schema not in VALIDATORS:
            import jsonschema
            with open(schema) as handle:
                VALIDATORS[schema] = jsonschema.Draft202012Validator(json.load(handle))
        validator = VALIDATORS[schema]
    problems = []
    tally = collections.Counter()
    compare_file(path, aurora, validator, problems, tally)
    return problems, tally


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--aurora", required=True)
    parser.add_argument("--schema")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    validator = None
    if args.schema:
        import jsonschema
        with open(args.schema) as handle:
            validator = jsonschema.Draft202012Validator(json.load(handle))
    problems = []
    tally = {key: 0 for key in ["files", "columns", "numeric_columns", "pandas_numeric", "formatted_numbers", "unreadable",
                                "pandas_unreadable", "shape_differs", "malformed_files"]}
    paths = list(files(args.paths))
    with multiprocessing.Pool(max(1, args.jobs)) as pool:
        for file_problems, file_tally in pool.imap(functools.partial(check_file, aurora=args.aurora, schema=args.schema), paths):
            problems += file_problems
            for key, value in file_tally.items():
                tally[key] += value
    print("compared: " + ", ".join(f"{key} {value}" for key, value in tally.items()))
    for problem in problems:
        print(problem)
    print(f"{len(problems)} difference(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
