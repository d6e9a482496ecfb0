#!/usr/bin/env python3
"""Writes a mixed CSV of about SIZE megabytes for the profiling benchmark (deterministic).

Columns: integers, floats, dates, short categoricals, quoted text with commas, a sparse column.
Usage: generate_mixed_csv.py OUT SIZE_MB
"""
import random
import sys

def main() -> None:
    out, size_mb = sys.argv[1], int(sys.argv[2])
    target = size_mb * 1_000_000
    rng = random.Random(42)
    cities = ["Oslo", "Lima", "Lyon", "Pune", "Kyiv", "Lagos", "Quito", "Hanoi"]
    plans = ["free", "team", "pro", "enterprise"]
    words = ["late", "payment", "asked", "about", "invoice", "prefers", "email", "call", "back", "renewal"]
    written = 0
    with open(out, "w", newline="") as f:
        header = "id,amount,quantity,score,signup,city,plan,comment,discount\n"
        f.write(header)
        written += len(header)
        row = 0
        lines = []
        while written < target:
            row += 1
            amount = f"{rng.lognormvariate(3, 1):.2f}"
            quantity = rng.randint(0, 500)
            score = f"{rng.gauss(50, 12):.4f}"
            signup = f"20{rng.randint(10, 24):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            comment = '"' + ", ".join(rng.sample(words, 3)) + '"'
            discount = "" if rng.random() < 0.7 else f"{rng.random():.3f}"
            line = f"{row},{amount},{quantity},{score},{signup},{rng.choice(cities)},{rng.choice(plans)},{comment},{discount}\n"
            lines.append(line)
            written += len(line)
            if len(lines) >= 10000:
                f.write("".join(lines))
                lines = []
        f.write("".join(lines))

if __name__ == "__main__":
    main()
