"""notebooks/colab_quickstart.ipynb executed headless (nbclient) on a tiny run; any failing cell fails the test.

The run is the notebook's own story: train, lose the runtime after the first
finished epoch (the training process is killed), run the training cell
again with RESUME = True, then the loss curves, a colorized folder and the
comparison grid. Colab-only steps (git clone, pip, Drive) skip: ON_COLAB = False.
"""

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, save_rgb, synthetic_photo

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
psutil = pytest.importorskip("psutil")

NOTEBOOK = REPO / "notebooks" / "colab_quickstart.ipynb"


def _tagged(notebook, tag):
    return [index for index, cell in enumerate(notebook.cells) if tag in cell.metadata.get("tags", [])]


def _parameters_cell(**values):
    """A papermill-style "injected-parameters" cell."""
    cell = nbformat.v4.new_code_cell("\n".join(f"{name} = {value!r}" for name, value in values.items()))
    cell.metadata["tags"] = ["injected-parameters"]
    return cell


def _kill_training_after_first_epoch(work, stop):
    """Watch for the first committed epoch of the run in ``work``, then SIGKILL its colorize-train process."""
    record = work / "simple.keras.backup" / "epoch-000001.json"
    while not stop.is_set():
        if record.exists():
            for process in psutil.Process().children(recursive=True):
                try:
                    command = " ".join(process.cmdline())
                except psutil.Error:
                    continue
                if "colorize-train" in command and str(work) in command and "python" in command:
                    os.kill(process.pid, signal.SIGKILL)  # a dropped Colab runtime
                    return
        time.sleep(0.01)


@pytest.mark.slow
def test_colab_notebook_runs_headless_with_a_disconnect_and_resume(tmp_path, monkeypatch):
    assert NOTEBOOK.exists()
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")  # committed clean
    assert "colab.research.google.com/github/" in notebook.cells[0].source
    (parameters,) = _tagged(notebook, "parameters")

    data, photos, work = tmp_path / "data", tmp_path / "to_colorize", tmp_path / "drive"
    for index in range(16):
        save_rgb(data / f"class{index % 2}" / f"{index:02d}.jpg", synthetic_photo(40, 48, seed=index))
    for index in range(2):
        save_rgb(photos / f"photo{index}.png", synthetic_photo(36, 44, seed=50 + index))
    notebook.cells.insert(parameters + 1, _parameters_cell(
        ON_COLAB=False, WORK=str(work), DATA=str(data), FAMILY="simple", EPOCHS=2, SIZE=16, BATCH_SIZE=4,
        CACHE="none", TRAIN_OPTIONS="--width 0.125 --val-fraction 0.25 --test-fraction 0.25", RESUME=False,
        PHOTOS=str(photos),
    ))
    (train,) = _tagged(notebook, "train")

    # The cells run the installed console scripts: the kernel finds them beside this Python.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    stop = threading.Event()
    watcher = threading.Thread(target=_kill_training_after_first_epoch, args=(work, stop), daemon=True)
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells[:train]):
            client.execute_cell(cell, index)
        watcher.start()
        with pytest.raises(nbclient.exceptions.CellExecutionError, match="RESUME = True"):
            client.execute_cell(notebook.cells[train], train)
        stop.set()
        watcher.join()
        assert (work / "simple.keras.backup").is_dir()  # killed between epochs: the backup is there to resume
        notebook.cells.insert(train, _parameters_cell(RESUME=True))
        client.execute_cell(notebook.cells[train], train)
        train += 1
        client.execute_cell(notebook.cells[train], train)  # the same cell again
        trained = "".join(output.get("text", "") for output in notebook.cells[train].outputs)
        assert "Epoch 2/2" in trained and "Epoch 1/2" not in trained, trained[-2000:]
        for index in range(train + 1, len(notebook.cells)):
            client.execute_cell(notebook.cells[index], index)

    assert (work / "simple.keras").exists() and not (work / "simple.keras.backup").exists()
    assert sorted(p.name for p in (work / "colorized").iterdir()) == [
        "photo0.png", "photo0_compare.png", "photo1.png", "photo1_compare.png"]
    assert (work / "figures" / "comparison.png").stat().st_size > 1000
    shown = [output for cell in notebook.cells for output in cell.get("outputs", [])
             if "image/png" in output.get("data", {})]
    assert len(shown) >= 4  # loss curves, two comparisons, the grid
