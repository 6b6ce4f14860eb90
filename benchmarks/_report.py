"""Shared output of the benchmark scripts: a plain-text table on stdout and a JSON file."""

import json
import os
import platform
import sys
from pathlib import Path


def machine() -> dict:
    import torch

    return {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def emit(name: str, rows: list, json_path: str | None, extra: dict | None = None) -> Path:
    """Print ``rows`` (list of dicts, same keys) as a table and write them, with the machine, as JSON."""
    cols = list(rows[0])
    cells = [[f"{r[c]:.3g}" if isinstance(r[c], float) else str(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))
    path = Path(json_path) if json_path else Path(__file__).parent / "results" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **(extra or {}), "rows": rows}, indent=1))
    print(f"wrote {path}")
    return path
