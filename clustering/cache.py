"""Embeddings kept on disk, keyed by model and by the sha256 of each image file's bytes."""

import hashlib
import json
import re
import uuid
import zipfile
from pathlib import Path

import numpy as np

from hueroute.errors import InputError
from hueroute.files import atomic_path, write_text_atomic


def file_digest(path: str | Path) -> str:
    """The sha256 of a file's bytes, in hex."""
    if not Path(path).is_file():
        raise InputError(path, "no such file")
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as error:
        raise InputError(path, f"cannot be read ({error})") from error


def model_folder_name(key: str) -> str:
    """A folder name for a model key: readable, and unique through a hash of the key."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", key).strip("-.")[-60:]
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


class EmbeddingCache:
    """The embeddings one model has made, stored as shards that are only ever added.

    Each `add` writes a new shard file atomically, so an interrupted run keeps what it had
    finished and several machines can fill one cache folder without overwriting each other.
    """

    def __init__(self, root: Path, key: str) -> None:
        self.key = key
        self.folder = root / model_folder_name(key)
        self.rows: dict[str, int] = {}
        self.vectors = np.zeros((0, 0), np.float32)
        self.reload()

    def reload(self) -> None:
        """Read every shard in the folder."""
        digests, blocks = [], []
        for shard in sorted(self.folder.glob("part-*.npz")):
            try:
                with np.load(shard) as stored:
                    digests.extend(stored["digests"].tolist())
                    blocks.append(stored["vectors"].astype(np.float32))
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
                raise InputError(shard, f"is not a readable embedding shard ({error})") from error
        self.rows = {digest: row for row, digest in enumerate(digests)}
        self.vectors = np.concatenate(blocks) if blocks else np.zeros((0, 0), np.float32)

    def __len__(self) -> int:
        return len(self.rows)

    def __contains__(self, digest: str) -> bool:
        return digest in self.rows

    def get(self, digests: list[str]) -> np.ndarray:
        """The stored vectors of `digests`, in order; every one must be in the cache."""
        return self.vectors[[self.rows[digest] for digest in digests]]

    def add(self, digests: list[str], vectors: np.ndarray) -> None:
        """Store `vectors` (one row per digest) as a new shard."""
        if not digests:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "model.json"
        if not meta.exists():
            write_text_atomic(meta, json.dumps({"model": self.key}) + "\n")
        with atomic_path(self.folder / f"part-{uuid.uuid4().hex}.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, digests=np.array(digests), vectors=vectors.astype(np.float32))
        start = len(self.vectors)
        self.vectors = vectors if start == 0 else np.concatenate([self.vectors, vectors])
        self.rows.update({digest: start + i for i, digest in enumerate(digests)})
