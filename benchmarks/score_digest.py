"""Digests of the demo run's and a smoke run's scores and submissions, and submit's time per
image: equal digests before and after a change say that it left every score and every
predicted pixel as it was.

    python benchmarks/score_digest.py OUT

Makes `hueroute demo --out OUT/demo --force` and a smoke-preset run of the bundled samples at
64 px (as tests/test_pipeline.py does) in OUT/smoke, then prints, for each run, the sha256 of
report/scores.csv and of the submission's PNGs (names and bytes, in name order), and the
seconds per image of submitting again with `force` (reading, embedding, routing, restoring,
zipping and checking; the models load within it). Run it on one thread (OMP_NUM_THREADS=1)
for figures that compare between machines' loads.
"""

import argparse
import hashlib
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from hueroute.data import samples_dir
from hueroute.dataset import make_dataset
from hueroute.ensemble.submit import submit_run
from hueroute.run import Run

HUEROUTE = [sys.executable, "-m", "hueroute"]


def hueroute(*args: str | Path) -> None:
    subprocess.run([*HUEROUTE, *map(str, args)], check=True, stdout=subprocess.DEVNULL)


def smoke_run(out: Path) -> Path:
    shutil.rmtree(out, ignore_errors=True)
    make_dataset(samples_dir(), out / "data", size=64, copies=1, test_fraction=0.3, seed=3)
    hueroute("init", out / "run", "--data", out / "data", "--preset", "smoke")
    hueroute("run", out / "run")
    return out / "run"


def demo_run(out: Path) -> Path:
    hueroute("demo", "--out", out, "--force")
    return out / "run"


def zip_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode() + b"\0" + archive.read(name))
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    for name, make in (("smoke", smoke_run), ("demo", demo_run)):
        run = make(args.out / name)
        scores = hashlib.sha256((run / "report" / "scores.csv").read_bytes()).hexdigest()
        submission = zip_digest(run / "submission.zip")
        started = time.perf_counter()
        images = submit_run(Run.open(run), None, None, force=True).images
        per_image = (time.perf_counter() - started) / images
        print(f"{name}: scores.csv {scores[:16]}  submission {submission[:16]}  ", end="")
        print(f"submit {per_image:.3f} s/image over {images} images")


if __name__ == "__main__":
    main()
