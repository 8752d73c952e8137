"""Write the small example traces of scenarios/traces/: ``python scripts/make_traces.py``.

Deterministic (a fixed seed, Python's own generator; no downloads), so running it again gives the
same bytes. Both traces are bursty: a base Poisson rate with a burst of five times that rate for
2 s in every 10 s.

- ``mooncake-small.jsonl``: 60 s, 3,182 rows, ``timestamp`` in ms, ``input_length``,
  ``output_length`` and ``hash_ids`` covering the whole input in blocks of 512 tokens (as the
  Mooncake traces do): most prompts start with one of 12 shared "system prompts" (1 or 2 blocks,
  popular ones more often), and one row in five repeats an earlier request exactly.
- ``azure-small.csv``: 60 s, 2,467 rows, ``TIMESTAMP,ContextTokens,GeneratedTokens`` with
  date-times written as the Azure LLM inference traces write them (seven fractional digits).
"""

from __future__ import annotations

import argparse
import json
import math
import random
from datetime import datetime, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "scenarios" / "traces"
BLOCK_TOKENS = 512
SPAN_S = 60.0


def arrivals_s(rng: random.Random, base_rps: float) -> list[float]:
    """Poisson arrivals at ``base_rps``, five times faster for 2 s of every 10 s."""
    times, t = [], 0.0
    while True:
        rate = base_rps * (5.0 if t % 10.0 >= 8.0 else 1.0)
        t += rng.expovariate(rate)
        if t >= SPAN_S:
            return times
        times.append(t)


def lengths(rng: random.Random, median: float, sigma: float, low: int, high: int) -> int:
    return max(low, min(high, round(median * math.exp(rng.gauss(0.0, sigma)))))


def mooncake_rows(rng: random.Random) -> list[dict]:
    prefixes = [[1000 + 2 * i] + ([1001 + 2 * i] if i % 3 == 0 else []) for i in range(12)]
    popularity = [1.0 / (i + 1) for i in range(12)]  # Zipf-like: a few prompts dominate
    next_block = 100_000
    rows: list[dict] = []
    for t in arrivals_s(rng, base_rps=30.0):
        if rows and rng.random() < 0.2:  # an earlier request again, exactly
            again = dict(rng.choice(rows))
            again["timestamp"] = round(t * 1000)
            rows.append(again)
            continue
        prefix = rng.choices(prefixes, popularity)[0] if rng.random() < 0.8 else []
        tail = lengths(rng, 250, 0.8, 16, 3000)
        total = len(prefix) * BLOCK_TOKENS + tail
        own = math.ceil(total / BLOCK_TOKENS) - len(prefix)
        blocks = prefix + list(range(next_block, next_block + own))
        next_block += own
        rows.append(
            {
                "timestamp": round(t * 1000),
                "input_length": total,
                "output_length": lengths(rng, 120, 0.7, 1, 1500),
                "hash_ids": blocks,
            }
        )
    return rows


def azure_lines(rng: random.Random) -> list[str]:
    start = datetime(2023, 11, 16, 18, 15, 46)
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for t in arrivals_s(rng, base_rps=23.0):
        stamp = start + timedelta(microseconds=round(t * 1e6))
        text = stamp.strftime("%Y-%m-%d %H:%M:%S.%f") + "0"  # seven digits, as Azure writes them
        lines.append(f"{text},{lengths(rng, 900, 1.0, 4, 8000)},{lengths(rng, 200, 0.9, 1, 2000)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write the traces into")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    rows = mooncake_rows(random.Random(20))
    text = "".join(json.dumps(row, separators=(", ", ": ")) + "\n" for row in rows)
    (out / "mooncake-small.jsonl").write_text(text, encoding="utf-8")
    lines = azure_lines(random.Random(21))
    (out / "azure-small.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(
        f"{out}: mooncake-small.jsonl ({len(rows)} rows), azure-small.csv ({len(lines) - 1} rows)"
    )


if __name__ == "__main__":
    main()
