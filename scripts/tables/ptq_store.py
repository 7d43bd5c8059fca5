"""What the report formatters read from a ptq results store, through the ptq program (never its SQL schema)."""
import json
import os
import subprocess


def stored_bench_runs(db):
    """The store's benchmark runs in import order, each with its results (`ptq bench-import --list --json`).
    The ptq binary is $PTQ, default build/ptq."""
    ptq = os.environ.get("PTQ", "build/ptq")
    out = subprocess.run([ptq, "bench-import", "--db", db, "--list", "--json", "--threads", "1"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["stored"]
