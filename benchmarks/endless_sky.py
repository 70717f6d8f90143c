"""Fetch endless-sky-data's 273 landscape photos (720 x 360) as a benchmark source.

    python benchmarks/endless_sky.py OUT

Downloads the Debian package `endless-sky-data` with `apt-get download`, unpacks it with
`dpkg-deb -x` and copies usr/share/games/endless-sky/images/land/ to OUT, beside the
package's copyright file (public domain, some files CC-BY-SA; see its `images/land` entries).
The photos stay out of the repository. Nothing is fetched when OUT already holds them.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "endless-sky-data"
LAND = Path("usr/share/games/endless-sky/images/land")
COPYRIGHT = Path(f"usr/share/doc/{PACKAGE}/copyright")


def fetch(out: Path) -> int:
    """Copy the landscapes to `out`; return how many it holds."""
    if out.is_dir() and any(out.glob("*.jpg")):
        return len(list(out.glob("*.jpg")))
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(["apt-get", "download", PACKAGE], cwd=work, check=True)
        (deb,) = Path(work).glob(f"{PACKAGE}_*.deb")
        unpacked = Path(work) / "x"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        staging = out.with_name(f".{out.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(unpacked / LAND, staging)
        shutil.copy(unpacked / COPYRIGHT, staging / "COPYRIGHT")
        staging.rename(out)
    return len(list(out.glob("*.jpg")))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(f"{fetch(Path(sys.argv[1]))} photos in {sys.argv[1]}")
