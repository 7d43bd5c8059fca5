"""What the report formatters read: a ptq results store, through the ptq program (never its SQL schema), and the JSON
files a measuring script left in OUT/raw."""
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


def raw_loader(out):
    """A function name -> the parsed JSON of OUT/raw/name, or None when the script did not write it."""
    raw = os.path.join(out, "raw")

    def load(name):
        p = os.path.join(raw, name)
        return json.load(open(p)) if os.path.exists(p) else None

    return load
