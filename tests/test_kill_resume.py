"""A training run killed with SIGKILL at any instant resumes without losing or repeating a finished epoch.

One real run of ``train_simple.py`` (``colorize.cli.train.train_command``, a
tiny model on 12 small photos) is killed again and again, each time at another
instant, and resumed with ``--resume`` as a user would (or started again when
nothing was finished yet) until it completes. The instants: during a training
or validation batch, at an epoch's end before its commit, inside each file
write of the commit (the backup weights, the record, the log, the best model,
the settings, the loss plot), between those writes, while old generations are
pruned, while a resume repairs the log or re-saves the best model, and while
the finished run deletes its backup.

Every child process is forked from one harness process that imported
TensorFlow once (it runs no TensorFlow op itself, so the children start
clean), which keeps some twenty kills and resumes within about a minute. The
harness patches ``os.fsync``, ``os.replace`` and ``os.unlink`` in the child to
kill it at the chosen call: "inside a write" truncates the file being synced
to half its size and kills the process before the sync, which is what a kill
in the middle of writing leaves. The library itself has no test hooks.

Run alone: ``python tests/test_kill_resume.py HARNESS RUN_DIR PHOTOS TRACE``
is the harness (the test starts it).
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, save_rgb, synthetic_photo

EPOCHS = 14
# (what, file-name pattern or None, occurrence, counted from): the child is killed at the
# occurrence-th matching call, counting from the child's start ("start"), from its first
# finished epoch ("epoch") or from the end of training ("train_end"). None: run to the end.
#   fsync          inside the write of a matching file (truncated to half, then killed)
#   replace-before / replace-after   just before / after a matching file is renamed into place
#   unlink-after   just after a matching file is deleted
#   train_batch / test_batch / epoch_begin / epoch_end   Keras callback moments
PLAN = [
    ("train_batch", None, 2, "start"),  # in the very first epoch: nothing finished yet
    ("fsync", r"^\.epoch-000001\..*\.partial\.weights\.h5$", 1, "start"),  # inside the first backup write
    ("epoch_begin", None, 2, "start"),  # between epochs
    ("fsync", r"\.partial\.weights\.h5$", 1, "start"),  # inside a backup write
    ("replace-before", r"^epoch-\d+\.weights\.h5$", 1, "start"),  # backup written, not renamed
    ("replace-before", r"^epoch-\d+\.json$", 1, "start"),  # backup renamed, no record yet
    ("fsync", r"^\.epoch-\d+\.json\..*\.tmp$", 1, "start"),  # inside the record write
    ("replace-after", r"^epoch-\d+\.json$", 1, "start"),  # committed, log not yet rewritten
    ("fsync", r"_log\.csv\..*\.tmp$", 1, "start"),  # inside the resume's log repair
    ("fsync", r"_settings\.json\..*\.tmp$", 1, "start"),  # inside the resume's settings write
    ("replace-after", r"_log\.csv$", 1, "epoch"),  # log row written, best model not yet
    ("fsync", r"^\.m\.partial\.keras$", 1, "start"),  # inside the best-model (re-)save
    ("replace-after", r"^m\.keras$", 1, "epoch"),  # best model written, plot not yet
    ("replace-before", r"_loss\.png$", 1, "epoch"),  # inside the plot write
    ("test_batch", None, 1, "start"),  # during validation
    ("epoch_end", None, 1, "start"),  # epoch done, before its commit
    ("unlink-after", r"^epoch-\d+\.json$", 1, "epoch"),  # pruning: old record gone, its weights not yet
    ("fsync", r"\.partial\.weights\.h5$", 2, "start"),  # inside the second backup write of a process
    ("replace-before", r"^epoch-\d+\.json$", 3, "start"),  # the third commit point of a process
    ("unlink-after", r"^epoch-\d+\.json$", 1, "train_end"),  # finished: deleting the backup, newest left
    ("unlink-after", r"^epoch-\d+\.json$", 1, "train_end"),  # resumed the finished run: deleting again
    None,  # whatever is left: "already finished", or resume to the end
]


def _photos(folder):
    for index in range(12):
        save_rgb(folder / f"img{index:02d}.png", synthetic_photo(24, 24, seed=index))
    return folder


@pytest.mark.slow
def test_training_survives_sigkill_at_any_instant(tmp_path):
    run_dir, trace = tmp_path / "run", tmp_path / "trace.jsonl"
    photos = _photos(tmp_path / "photos")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'tests'}")
    result = subprocess.run(
        [sys.executable, __file__, "HARNESS", str(run_dir), str(photos), str(trace)],
        capture_output=True, text=True, env=env, timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    children = {}
    for event in events:
        children.setdefault(event["child"], []).append(event)

    committed, ended, survived = 0, 0, []
    for index in sorted(children):
        child = children[index]
        kinds = [event["event"] for event in child]
        begin = next((event for event in child if event["event"] == "begin"), None)
        if begin is not None:
            # After every kill the best model (if any) loads, the log lists each finished epoch once.
            assert begin["best"] in ("ok", "absent"), (index, begin)
            restored = begin["log"]
            assert restored == list(range(len(restored))), (index, restored)  # each epoch once, in order
            # Nothing finished is lost, nothing unfinished appears.
            assert committed <= len(restored) <= ended, (index, committed, restored, ended)
            start = next((event["epoch"] for event in child if event["event"] == "start"), None)
            assert start in (len(restored), None), (index, start, restored)
        committed = max([committed] + [event["epochs"] for event in child if event["event"] == "commit"])
        ended = max([ended] + [event["epoch"] + 1 for event in child if event["event"] == "ended"])
        exit_event = child[-1]
        assert exit_event["event"] == "exit", (index, child)
        if "kill" in kinds:
            assert exit_event["signal"] == signal.SIGKILL, (index, child)
            survived.append(tuple(PLAN[index][:2] + PLAN[index][3:]))
        else:
            expected = 2 if "finished-before" in kinds else 0  # 2: "nothing to resume (that run already finished)"
            assert exit_event["status"] == expected and "fallback" not in kinds, (index, child)
            assert index == len(PLAN) - 1, f"child {index} was not killed: {child}"
    distinct = set(survived)
    print(f"killed and resumed at {len(distinct)} distinct instants: {sorted(distinct)}")
    assert len(distinct) >= 15 and len(survived) == len(PLAN) - 1

    import csv

    from colorize.train import runfiles
    from colorize.predict.engine import load_colorizer

    files = runfiles.run_files(run_dir / "m.keras")
    with open(files["log"], newline="") as handle:
        epochs = [int(row["epoch"]) for row in csv.DictReader(handle)]
    assert epochs == list(range(EPOCHS))  # every epoch exactly once
    assert not files["backup"].exists()
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(".")]  # no partial file left
    model = load_colorizer(files["model"])
    assert model.family == "simple" and model.training_size == 16


@pytest.mark.slow
def test_a_damaged_backup_falls_back_to_the_previous_generation(tmp_path, capsys):
    """The newest backup generation damaged (bit rot, a half-copied Drive folder): one warning line,
    the run resumes after the previous epoch, and the log is cut back to it."""
    import keras
    import numpy as np

    from colorize.train import runfiles, fit as training
    from colorize.train.data import LabBatches
    from colorize.models.losses import AbMeanSquaredError
    from colorize.models.simple import build_simple_model

    def setup(seed):
        keras.utils.set_random_seed(seed)
        images = np.stack([synthetic_photo(16, 16, seed=i) for i in range(8)])
        model = build_simple_model(width=0.125)
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=AbMeanSquaredError(), run_eagerly=True)
        return model, LabBatches(images, 4, shuffle=True), LabBatches(images[:4], 4)

    class Stop(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 3:
                raise KeyboardInterrupt  # the runtime is gone

    output = tmp_path / "m.keras"
    model, train, val = setup(0)
    with pytest.raises(KeyboardInterrupt):
        training.fit(model, train, val, output, epochs=5, verbose=0, extra_callbacks=[Stop()])
    files = runfiles.run_files(output)
    newest = files["backup"] / "epoch-000003.weights.h5"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    capsys.readouterr()

    model, train, val = setup(1)
    seen = []

    class Start(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

    history, _ = training.fit(model, train, val, output, epochs=5, resume=True, verbose=0, extra_callbacks=[Start()])
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "epoch 3" in warnings[0] and "damaged" in warnings[0], warnings
    assert seen == [2, 3, 4]  # epoch 3 (the damaged one) is redone
    assert [int(row["epoch"]) for row in runfiles.read_log(files["log"])] == [0, 1, 2, 3, 4]
    assert not files["backup"].exists()


def test_a_model_with_non_finite_weights_is_never_saved(tmp_path):
    import keras
    import numpy as np

    from colorize.train.callbacks import BestModelCheckpoint, EpochBackup
    from colorize.models.simple import build_simple_model

    model = build_simple_model(width=0.125)
    model.compile(optimizer="adam", loss="mse")
    weights = model.get_weights()
    weights[0] = np.full_like(weights[0], np.nan)
    model.set_weights(weights)
    checkpoint = BestModelCheckpoint(tmp_path / "m.keras")
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"val_loss": 0.5})
    assert not (tmp_path / "m.keras").exists() and checkpoint.best is None
    # Nor committed to the backup: the epoch is logged, training stops, the last good generation stays.
    backup = EpochBackup(tmp_path / "m.keras.backup", tmp_path / "m_log.csv")
    backup.set_model(model)
    backup.set_params({"epochs": 3})
    backup.on_epoch_end(0, {"loss": float("nan"), "val_loss": float("nan")})
    assert model.stop_training and not (tmp_path / "m.keras.backup").exists()
    assert "nan" in (tmp_path / "m_log.csv").read_text()
    keras.backend.clear_session()


# ----------------------------------------------------------------------------- the harness


def _harness(run_dir, photos, trace_path):
    """Fork one child per PLAN entry, in turn; each resumes what the previous one left."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras  # noqa: F401  (imported once here, shared by every forked child)
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401

    import colorize.predict.pipeline  # noqa: F401
    import colorize.models.colorizer  # noqa: F401
    import colorize.models.simple  # noqa: F401
    import colorize.plots  # noqa: F401
    import colorize.cli.train  # noqa: F401
    import colorize.train.fit  # noqa: F401

    trace = os.open(trace_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for index, spec in enumerate(PLAN):
        pid = os.fork()
        if pid == 0:
            status = 99
            try:
                status = _child(index, spec, Path(run_dir), photos, trace)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        outcome = {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"status": os.WEXITSTATUS(status)}
        _write(trace, {"child": index, "event": "exit", **outcome})
        if not os.WIFSIGNALED(status) and index < len(PLAN) - 1:
            return 1  # a child that was not killed: the plan went out of step
    return 0


def _write(trace, event):
    os.write(trace, (json.dumps(event) + "\n").encode())  # unbuffered: survives the kill


def _child(index, spec, run_dir, photos, trace):
    import re

    import keras

    from colorize.train import callbacks

    from colorize.train import runfiles

    from colorize.cli import train as train_cli

    from colorize.train import fit as training

    output = run_dir / "m.keras"
    armed = {"start": True, "epoch": False, "train_end": False}
    counts = {}

    def log(event, **fields):
        _write(trace, {"child": index, "event": event, **fields})

    def die(why):
        log("fallback" if why == "fallback" else "kill", spec=list(spec) if spec else None)
        os.kill(os.getpid(), signal.SIGKILL)

    def moment(kind, name=None):
        """Kill here when this is the spec's occurrence-th matching moment."""
        if spec is None or spec[0] != kind or not armed[spec[3]]:
            return
        if spec[1] is not None and not re.search(spec[1], name or ""):
            return
        counts[kind] = counts.get(kind, 0) + 1
        if counts[kind] == spec[2]:
            die(kind)

    real_fsync, real_replace, real_unlink = os.fsync, os.replace, os.unlink

    def fsync(descriptor):
        try:
            target = os.readlink(f"/proc/self/fd/{descriptor}")
        except OSError:
            target = ""
        if spec and spec[0] == "fsync" and os.path.isfile(target) and re.search(spec[1], os.path.basename(target)):
            if armed[spec[3]] and counts.get("fsync", 0) + 1 == spec[2]:
                os.truncate(target, os.path.getsize(target) // 2)  # what a kill mid-write leaves
        moment("fsync", os.path.basename(target))
        return real_fsync(descriptor)

    def replace(source, target, *args, **kwargs):
        moment("replace-before", os.path.basename(os.fspath(target)))
        result = real_replace(source, target, *args, **kwargs)
        moment("replace-after", os.path.basename(os.fspath(target)))
        return result

    def unlink(path, *args, **kwargs):
        result = real_unlink(path, *args, **kwargs)
        moment("unlink-after", os.path.basename(os.fspath(path)))
        return result

    os.fsync, os.replace, os.unlink = fsync, replace, unlink

    class Harness(keras.callbacks.Callback):
        """Records what the child saw (before the commit callback) and kills at callback moments."""

        def on_train_begin(self, logs=None):
            from colorize.predict.engine import load_colorizer

            import csv

            log_path = runfiles.run_files(output)["log"]
            epochs = []
            if log_path.exists():
                with open(log_path, newline="") as handle:
                    epochs = [int(row["epoch"]) for row in csv.DictReader(handle)]
            best = "absent"
            if output.exists():
                try:
                    load_colorizer(output)
                    best = "ok"
                except Exception as error:
                    best = f"error: {error}"
            log("begin", log=epochs, best=best)
            self.epochs_begun = 0

        def on_epoch_begin(self, epoch, logs=None):
            if self.epochs_begun == 0:
                log("start", epoch=epoch)
            self.epochs_begun += 1
            if self.epochs_begun > 4 and spec is not None and spec[3] != "train_end":
                die("fallback")  # the planned moment never came: out of step
            moment("epoch_begin")

        def on_train_batch_end(self, batch, logs=None):
            moment("train_batch")

        def on_test_batch_end(self, batch, logs=None):
            moment("test_batch")

        def on_epoch_end(self, epoch, logs=None):
            log("ended", epoch=epoch)
            moment("epoch_end")

        def on_train_end(self, logs=None):
            armed["train_end"] = True

    real_commit = callbacks.EpochBackup._commit

    def commit(self, epochs, finished):
        real_commit(self, epochs, finished)
        log("commit", epochs=epochs)
        armed["epoch"] = True

    callbacks.EpochBackup._commit = commit
    real_fit = training.fit

    def fit(*args, **kwargs):
        kwargs["extra_callbacks"] = [Harness(), *kwargs.get("extra_callbacks", ())]
        kwargs["verbose"] = 0
        return real_fit(*args, **kwargs)

    training.fit = fit
    real_compile = keras.Model.compile

    def compile(self, *args, **kwargs):
        kwargs["run_eagerly"] = True  # no graph tracing in every child: seconds saved, the files are the same
        return real_compile(self, *args, **kwargs)

    keras.Model.compile = compile
    argv = ["--data", str(photos), "--size", "16", "--epochs", str(EPOCHS), "--batch-size", "4", "--width",
            "0.125", "--patience", "1000", "--val-fraction", "0.25", "--no-augment", "--output", str(output)]
    try:
        runfiles.check_output(output, resume=True)
        argv.append("--resume")
    except FileNotFoundError as error:
        if "already finished" in str(error):  # killed while deleting its backup: --resume says so
            log("finished-before")
            argv.append("--resume")
        # else "never finished an epoch": start it again, as the message says
    return train_cli.train_command("simple", argv)


if __name__ == "__main__" and sys.argv[1:2] == ["HARNESS"]:
    sys.exit(_harness(*sys.argv[2:5]))
