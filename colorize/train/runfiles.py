"""The files a training run keeps beside its output model, and reading them back.

A Colab runtime can vanish at any moment. Everything a run needs to continue
lives beside the output model:

    OUTPUT.keras             best model so far (by validation loss), a Colorizer
    OUTPUT_log.csv           one row per finished epoch
    OUTPUT_loss.png          the loss curves, redrawn after every epoch
    OUTPUT.keras.backup/     the last finished epochs' training state (see below)
    OUTPUT_settings.json     the command-line settings, reused by --resume

The backup folder holds up to two *generations*, one per finished epoch N:
``epoch-NNNNNN.weights.h5`` (model weights and optimizer state) and its
record ``epoch-NNNNNN.json`` (the epoch count, the weights file's size and
SHA-256, the log rows up to that epoch, whether the run finished). Every file
is written under a temporary name, flushed to disk and renamed into place;
the record is renamed last, so it is the commit: a generation without its
record, or whose weights do not match it, does not exist for
:func:`latest_backup`. The older generation is kept until the newer one is
committed, so a kill at any instant leaves at least one complete generation
(once the first epoch finished), and a damaged newest one falls back to the
previous. The CSV log is rewritten from the record on resume, so it always
lists exactly the finished epochs, each once.

Plain Python and the csv module only: inference and the command lines read
these files without importing Keras.
"""

import contextlib
import csv
import io
import json
import os
import re
import shutil
from pathlib import Path

from colorize.files import TEMPORARY_SUFFIX, file_digest, partial_model_path, temporary_pattern

# Version of the backup record format written by colorize.train.callbacks.EpochBackup.
BACKUP_FORMAT = 1
_RECORD_NAME = re.compile(r"^epoch-(\d{6})\.json$")
# What keras.callbacks.BackupAndRestore (used before the records above) left in the folder.
KERAS_BACKUP_WEIGHTS = "latest.weights.h5"
KERAS_BACKUP_METADATA = "training_metadata.json"


def run_files(output):
    """Paths of everything a training run keeps beside ``output`` (a .keras file)."""
    output = Path(output)
    stem = output.with_suffix("")
    return {
        "model": output,
        "log": Path(f"{stem}_log.csv"),
        "plot": Path(f"{stem}_loss.png"),
        "backup": Path(f"{output}.backup"),
        "settings": Path(f"{stem}_settings.json"),
    }


def read_log(path):
    """Rows of a CSV training log as dicts of floats, one per epoch ([] when missing).

    Logs written by earlier versions (Keras' CSVLogger) may hold an epoch
    twice (logged, then redone after a crash before its backup was written);
    the later row wins.
    """
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        rows = [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(handle)]
    by_epoch = {row.get("epoch"): row for row in rows}
    return sorted(by_epoch.values(), key=lambda row: row.get("epoch", 0))


def log_text(fields, rows):
    """CSV text of a training log: a header of ``fields`` and one line per row (list of cell strings)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)  # the excel dialect, as Keras' CSVLogger wrote
    writer.writerow(fields)
    writer.writerows(rows)
    return buffer.getvalue()


def remove_leftovers(output):
    """Delete the temporary files that writes killed midway left beside ``output`` and in its backup folder.

    Only a kill leaves them (every write removes its own on an error); the
    files they were to replace are intact.
    """
    files = run_files(output)
    folder = files["model"].parent
    patterns = [temporary_pattern(files[key]) for key in ("log", "settings", "plot")]
    found = [path for pattern in patterns for path in folder.glob(pattern)]
    found += [partial_model_path(files["model"])] if partial_model_path(files["model"]).exists() else []
    if files["backup"].is_dir():
        found += files["backup"].glob(".*.partial*")
        found += files["backup"].glob(f".*{TEMPORARY_SUFFIX}")
    for leftover in found:
        with contextlib.suppress(OSError):
            leftover.unlink()


def backup_records(folder):
    """Record files of a backup folder, newest first: list of (finished epochs, path)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(match.group(1)), folder / name) for name in os.listdir(folder) if (match := _RECORD_NAME.match(name))]
    return sorted(found, reverse=True)


def has_backup(folder):
    """True when ``folder`` holds something to resume from (a record, or a pre-record Keras backup)."""
    folder = Path(folder)
    return bool(backup_records(folder)) or (folder / KERAS_BACKUP_WEIGHTS).exists()


def read_record(path):
    """The backup record at ``path``, checked against its weights file. ValueError (one line) when unusable."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"unreadable record ({type(error).__name__})") from None
    try:
        if record["format"] != BACKUP_FORMAT:
            raise ValueError(f"record format {record['format']!r}, expected {BACKUP_FORMAT}")
        epochs, fields, rows = int(record["epochs"]), record["log"]["fields"], record["log"]["rows"]
        weights = path.with_name(record["weights"])
        expected = (int(record["bytes"]), record["sha256"])
        bool(record["finished"])
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"incomplete record ({type(error).__name__}: {error})") from None
    if epochs < 1 or len(rows) < epochs or any(len(row) != len(fields) for row in rows):
        raise ValueError("inconsistent record")
    try:
        actual = (weights.stat().st_size, file_digest(weights))
    except OSError as error:
        raise ValueError(f"{weights.name} unreadable ({error.strerror or error})") from None
    if actual != expected:
        raise ValueError(
            f"{weights.name} is damaged ({actual[0]} bytes, its record says {expected[0]}, checksum differs)"
        )
    return record


def latest_backup(folder):
    """The newest intact backup generation in ``folder``.

    Returns (record or None, problems): ``problems`` lists one line for each
    newer generation that was skipped as damaged.
    """
    problems = []
    for epochs, path in backup_records(folder):
        try:
            return read_record(path), problems
        except ValueError as error:
            problems.append(f"the backup of epoch {epochs} ({path.name}): {error}")
    return None, problems


def remove_finished_backup(output):
    """Delete a backup folder that a finished run was killed while deleting (its records gone first).

    A backup without a record but beside finished epochs holds nothing to
    resume from: the records are deleted first when a run ends.
    """
    files = run_files(output)
    if files["backup"].is_dir() and not has_backup(files["backup"]):
        if read_log(files["log"]) or files["model"].exists():
            shutil.rmtree(files["backup"], ignore_errors=True)


def check_output(output, resume):
    """Refuse to clobber a previous run; require something to resume from with ``resume``.

    A run that died before finishing its first epoch leaves only its settings
    (and at most an uncommitted backup): nothing worth keeping, so it may
    simply be started again. Raises FileExistsError / FileNotFoundError with a
    one-line message.
    """
    files = run_files(output)
    # A log without a best model is a run none of whose epochs ended with finite weights (it diverged
    # at once): nothing worth keeping, so it does not block a new start.
    finished_epochs = files["model"].exists()
    backup = has_backup(files["backup"])
    if resume:
        if backup:
            return
        if finished_epochs:  # the backup is deleted last when a run ends
            stem = Path(output).with_suffix("")
            reason = (
                f"that run already finished (no backup in {files['backup'].name}); to train it further, "
                f"start a new run from it: --init {output} --output {stem}-2.keras"
            )
        elif not files["backup"].exists():
            reason = "that run never finished an epoch with finite weights: start it again without --resume"
        else:
            return  # killed while committing its first epoch: the resumed run starts from the first epoch
        raise FileNotFoundError(f"{output}: nothing to resume ({reason})")
    if finished_epochs or backup:
        existing = [str(p) for key, p in files.items() if p.exists()]
        raise FileExistsError(
            f"{output}: a previous run's files exist ({', '.join(existing)}); "
            "pass --resume to continue it or choose another --output"
        )


def read_settings(output):
    """The settings a run saved beside ``output`` (dict); ValueError when missing or unreadable."""
    path = run_files(output)["settings"]
    try:
        settings = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read the run's settings ({error})") from None
    if not isinstance(settings, dict):
        raise ValueError(f"{path}: cannot read the run's settings (not a JSON object)")
    return settings
