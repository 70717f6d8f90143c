"""Where studies live: an RDB URL (SQLite by default, PostgreSQL for many machines) or a journal."""

import time
import warnings
from pathlib import Path

import optuna
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from hueroute.errors import InputError
from hueroute.run import Run

HEARTBEAT_S = 20  # a running trial's worker signs of life this often...
GRACE_S = 120  # ...and once this long passes without one, the trial is failed and retried
OPEN_ATTEMPTS = 3


def storage_url(run: Run, given: str | None) -> str:
    """The storage of `run`'s studies: `given`, else search.storage, else search/studies.db."""
    url = given or run.config.search.storage
    if url:
        return url
    return f"sqlite:///{(run.search_dir / 'studies.db').resolve()}"


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """An RDB URL (`sqlite:///...`, `postgresql://...`) or the path of a journal file."""
    if "://" not in url:
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(url))
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # SQLite: workers queue for the file lock instead of failing at once
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    for attempt in range(OPEN_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are marked experimental
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs=engine,
                    heartbeat_interval=HEARTBEAT_S,
                    grace_period=GRACE_S,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
                )
        except (IntegrityError, OperationalError) as error:  # workers making the tables at once
            problem: Exception = error
            time.sleep(1 + attempt)
        except (ImportError, ValueError, SQLAlchemyError) as error:
            problem = error
            break
    raise InputError(shown_url(url), f"cannot open this Optuna storage ({problem})")


def shown_url(url: str) -> str:
    """`url` fit to print: any password hidden."""
    return make_url(url).render_as_string(hide_password=True) if "://" in url else url
