"""Benchmark: wall time of `mmcl reproduce` per notebook and profile.

Usage: python benchmarks/suite.py [--quick] [--profile quick|full|both] [--device auto|cpu|cuda] [--only GLOB]
       [--json PATH]

``--quick`` runs the quick profile only. Each notebook runs in a fresh kernel of this interpreter, exactly as
`mmcl reproduce` does; the table lists its status and seconds, with the notebook's own declared estimate beside it.
"""

import argparse
import tempfile

from _report import emit
from mmcl_core import cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick profile only")
    parser.add_argument("--profile", choices=("quick", "full", "both"), default="both")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", default=None, help="glob on notebook names, e.g. '0[0-4]*'")
    parser.add_argument("--json", help="where to write the results (default benchmarks/results/suite.json)")
    parser.add_argument("--out", help="keep the executed notebooks and summary.json under OUT/<profile> (for "
                                      "benchmarks/widgets.py --summary)")
    args = parser.parse_args()
    profiles = ["quick"] if args.quick or args.profile == "quick" else ["full"] if args.profile == "full" \
        else ["quick", "full"]
    listing = {info["name"]: info for info in map(cli.notebook_info, cli.list_notebooks(only=args.only))}
    rows = []
    for profile in profiles:
        with tempfile.TemporaryDirectory() as tmp:
            out = f"{args.out}/{profile}" if args.out else tmp
            summary = cli.reproduce(profile, only=args.only, out=out, device=args.device, progress=False)
        for name, info in summary["notebooks"].items():
            declared = listing.get(name, {}).get("runtime_s", {}).get(profile)
            rows.append({"notebook": name, "profile": profile, "device": summary["device"],
                         "status": info["status"], "seconds": float(info["seconds"]),
                         "declared_s": declared if declared is not None else "-"})
        rows.append({"notebook": "TOTAL", "profile": profile, "device": summary["device"],
                     "status": "ok" if all(r["status"] == "ok" for r in rows if r["profile"] == profile) else "FAILED",
                     "seconds": sum(r["seconds"] for r in rows if r["profile"] == profile and r["notebook"] != "TOTAL"),
                     "declared_s": "-"})
    emit("suite", rows, args.json)


if __name__ == "__main__":
    main()
