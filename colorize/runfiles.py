"""The files a training run keeps beside its output model, and reading them back.

A Colab runtime can vanish at any moment. Everything a run needs to continue
lives beside the output model:

    OUTPUT.keras             best model so far (by validation loss), a Colorizer
    OUTPUT_log.csv           one row per finished epoch (CSVLogger)
    OUTPUT_loss.png          the loss curves, redrawn after every epoch
    OUTPUT.keras.backup/     BackupAndRestore state (weights, optimizer, epoch)
    OUTPUT_settings.json     the command-line settings, reused by --resume

Plain Python and the csv module only: inference and the command lines read
these files without importing Keras.
"""

import csv
import json
from pathlib import Path


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
    """Rows of a CSVLogger file as dicts of floats, one per epoch ([] when missing).

    An epoch that was logged and then redone after a crash (before its backup
    was written) appears twice in the file; the later row wins.
    """
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        rows = [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(handle)]
    by_epoch = {row.get("epoch"): row for row in rows}
    return sorted(by_epoch.values(), key=lambda row: row.get("epoch", 0))


def check_output(output, resume):
    """Refuse to clobber a previous run; require something to resume from with ``resume``.

    A run that died before finishing its first epoch leaves only its settings
    (and an empty log): nothing worth keeping, so it may simply be started
    again. Raises FileExistsError / FileNotFoundError with a one-line message.
    """
    files = run_files(output)
    finished_epochs = bool(read_log(files["log"])) or files["model"].exists()
    if resume:
        if not files["backup"].exists():
            if finished_epochs:
                reason = "that run already finished"
            else:
                reason = "that run never finished an epoch: start it again without --resume"
            raise FileNotFoundError(f"{output}: nothing to resume ({reason}; no {files['backup'].name} folder)")
        return
    if finished_epochs or files["backup"].exists():
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
