#!/usr/bin/env python3
"""Times the reference tools on FILE: pandas.read_csv (load only) or DuckDB read_csv + SUMMARIZE.

Usage: profile_reference.py pandas FILE | profile_reference.py duckdb FILE THREADS
Prints seconds and MB/s, imports excluded (last line: `elapsed SECONDS`); run under
/usr/bin/time -v for peak RSS.
"""
import os
import sys
import time

def main() -> None:
    tool, path = sys.argv[1], sys.argv[2]
    size = os.path.getsize(path)
    # Imported before the clock starts: the figure is the tool's own work, not Python's start-up.
    if tool == "pandas":
        import pandas
    else:
        import duckdb
    start = time.perf_counter()
    if tool == "pandas":
        frame = pandas.read_csv(path)
        rows = len(frame)
    else:
        connection = duckdb.connect()
        connection.execute(f"SET threads = {int(sys.argv[3])}")
        result = connection.execute(f"SUMMARIZE SELECT * FROM read_csv('{path}')").fetchall()
        rows = result[0][-2] if result else 0
    elapsed = time.perf_counter() - start
    print(f"{tool}: {elapsed:.2f} s, {size / elapsed / 1e6:.0f} MB/s, rows {rows}")
    print(f"elapsed {elapsed:.4f}")

if __name__ == "__main__":
    main()
