"""Known vulnerabilities in the pinned requirements (`make audit`, part of `make test`).

    python deploy/pip_audit.py requirements/*.txt

Every `name==version` pin of the given files (base, engines, cpu, gpu, dev,
bench...) is audited by pip-audit against the package index's vulnerability
data, without resolving or installing anything (the GPU and benchmark pins
are audited too, though not installed here). A known vulnerability fails.
When that data cannot be reached (no network, an index mirror without the
JSON API, where every package comes back "not found"), it prints a warning
and passes: the check runs wherever the index is reachable, CI included.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?)==([^\s;#]+)")
UNREACHABLE = ("ConnectionError", "NameResolutionError", "Max retries exceeded", "timed out")


def pins(files: list[Path]) -> list[str]:
    """``name==version`` of every pinned line (nested -r files are given too)."""
    found = {}
    for path in files:
        for line in path.read_text().splitlines():
            match = PIN.match(line)
            if match:
                name = re.sub(r"\[.*\]", "", match.group(1)).lower()
                found[name] = f"{name}=={match.group(2)}"
    return sorted(found.values())


def verdict(returncode: int, stdout: str, stderr: str) -> tuple[int, str]:
    """(exit status, message) from pip-audit's JSON report."""
    if any(marker in stderr for marker in UNREACHABLE):
        return 0, "WARNING: pip-audit skipped: the vulnerability service cannot be reached."
    try:
        report = json.loads(stdout)
    except ValueError:
        return 1, f"pip-audit failed (status {returncode}):\n{stderr[-3000:]}"
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    if dependencies and not audited:
        return 0, (
            "WARNING: pip-audit skipped: the index has no vulnerability data for any of the "
            f"{len(dependencies)} pins (a mirror without PyPI's JSON API?)."
        )
    vulnerable = [d for d in audited if d.get("vulns")]
    if vulnerable:
        lines = [
            f"  {d['name']}=={d['version']}: "
            + ", ".join(
                f"{v['id']} (fixed in {', '.join(v.get('fix_versions') or ['-'])})"
                for v in d["vulns"]
            )
            for d in vulnerable
        ]
        return 1, "Known vulnerabilities in pinned requirements:\n" + "\n".join(lines)
    skipped = len(dependencies) - len(audited)
    note = f" ({skipped} not on the index, not audited)" if skipped else ""
    return 0, f"pip-audit: {len(audited)} pins, no known vulnerabilities{note}."


def main(argv: list[str]) -> int:
    files = [Path(arg) for arg in argv] or sorted(Path("requirements").glob("*.txt"))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pinned:
        pinned.write("\n".join(pins(files)) + "\n")
    try:
        out = subprocess.run(  # noqa: S603 (our own interpreter and arguments)
            [
                sys.executable, "-m", "pip_audit", "-r", pinned.name, "--no-deps",
                "--disable-pip", "--format", "json", "--progress-spinner", "off",
                "--timeout", "30",
            ],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        print("WARNING: pip-audit skipped: the vulnerability service did not answer in time.")
        return 0
    finally:
        Path(pinned.name).unlink(missing_ok=True)
    status, message = verdict(out.returncode, out.stdout, out.stderr)
    print(message)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
