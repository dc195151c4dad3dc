"""Writing files so that nothing a user had is lost, whenever the process dies.

Every file the project writes (colorized PNGs, figures, training logs,
settings, backups, models, compiled copies) goes through here:

* :func:`write_bytes_atomic` replaces a file at once: a temporary file in the
  same folder, flushed and fsynced, renamed over the target, the folder
  fsynced. A kill at any instant leaves the old file or the new one, never a
  partial one (at most a hidden ``.NAME.*.tmp`` beside it).
* :func:`write_bytes_new` creates a file that must not exist yet, atomically
  and exclusively: two processes choosing the same name never overwrite each
  other (the second gets FileExistsError and picks another name).
* :func:`save_model_atomic` does the same for a Keras model (``model.save``).

No Keras at import: the command lines import this before they decide
whether they need TensorFlow.
"""

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

# Suffix of the temporary files a write makes beside its target (hidden: they start with ".").
TEMPORARY_SUFFIX = ".tmp"


def temporary_pattern(path):
    """Glob pattern of the temporary files a write of ``path`` may have left (killed midway)."""
    return f".{Path(path).name}.*{TEMPORARY_SUFFIX}"


def _write_temporary(path, data):
    """``data`` into a new fsynced temporary file beside ``path`` with a new file's usual permissions."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); give it the permissions of any new file.
        os.chmod(temporary, 0o666 & ~current_umask())
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    return temporary


def write_bytes_atomic(path, data):
    """Write ``data`` (bytes) to ``path``, replacing it at once (see the module docstring).

    The folder is made when missing. Returns the Path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _write_temporary(path, data)
    try:
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    fsync_folder(path.parent)
    return path


def write_bytes_new(path, data):
    """Create ``path`` holding ``data``; FileExistsError when something already has that name.

    Atomic and exclusive: the complete temporary file is hard-linked to the
    final name (link fails on an existing name, whoever made it, even another
    process in the same instant) and the temporary name removed. On a file
    system without hard links an exclusive ``O_EXCL`` placeholder is written
    over instead. Returns the Path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _write_temporary(path, data)
    try:
        try:
            os.link(temporary, path)
        except FileExistsError:
            raise
        except OSError:  # no hard links here (some network or FAT file systems)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            os.close(descriptor)
            os.replace(temporary, path)
    finally:
        with contextlib.suppress(OSError):
            os.remove(temporary)
    fsync_folder(path.parent)
    return path


def save_model_atomic(model, path):
    """``model.save(path)`` so that ``path`` is always a complete file.

    Written to ``.STEM.partial.keras`` beside it, fsynced and renamed over it
    (a kill leaves the old file and a partial one that training's start-up
    removes). Returns the Path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_model_path(path)
    try:
        model.save(temporary)
        fsync_file(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    fsync_folder(path.parent)
    return path


def partial_model_path(path):
    """Where :func:`save_model_atomic` writes ``path`` before the rename (Keras wants a .keras name)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.partial.keras")


def fsync_file(path):
    """Flush a written file to disk, so a rename after it never exposes a partial file after a crash."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_folder(folder):
    """Make renames inside ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def file_digest(path):
    """SHA-256 hex digest of a file's bytes, read in blocks (a 15 MB model: ~30 ms)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def current_umask():
    """The process umask, read without changing it where the system allows.

    ``os.umask`` can only be read by setting it, and writes run in worker
    threads: for that moment every file another thread creates would get the
    wrong permissions. Linux shows the umask in /proc/self/status.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def unwritable_folder_reason(folder):
    """Why files cannot be created in ``folder`` (made if missing): a one-line reason, or None when they can.

    Walks up to the nearest existing ancestor, which must be a writable folder
    on a writable file system. Permissions alone do not tell (root passes
    every permission check, and /proc or /sys refuse new files whatever they
    say), so a hidden file is created there and removed at once.
    """
    existing = Path(folder).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    with contextlib.suppress(OSError, AttributeError):
        if os.statvfs(existing).f_flag & os.ST_RDONLY:
            return f"{existing} is on a read-only file system"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write in {existing} (permission denied)"
    try:
        descriptor, probe = tempfile.mkstemp(dir=existing, prefix=".colorize-probe.", suffix=TEMPORARY_SUFFIX)
    except OSError as error:
        return f"cannot create files in {existing} ({error.strerror or error})"
    os.close(descriptor)
    with contextlib.suppress(OSError):
        os.remove(probe)
    return None
