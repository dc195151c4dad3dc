"""Read a PyTorch state dict saved in the legacy (pre-1.6) format, without torch.

``torch.save(..., _use_new_zipfile_serialization=False)`` writes one stream:

1. four pickles, one after the other: the magic number
   ``0x1950a86a20f9469cfc6c``; the protocol version ``1001``; a dict of system
   info (``little_endian``, ``type_sizes``); then the object itself (here an
   ``OrderedDict`` of name -> tensor). Inside that pickle each tensor is the
   call ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
   requires_grad, hooks)`` and each storage a *persistent id*
   ``("storage", torch.FloatStorage, key, location, numel, view_metadata)``
   whose bytes are not in the pickle;
2. a fifth pickle: the list of storage keys, in the order of the raw data;
3. for each key, the storage: an 8-byte little-endian element count, then
   the elements as raw little-endian bytes.

A pickle can call any importable function, so the unpickler here resolves
only the handful of globals that such a file needs, each to a numpy-building
stand-in, and refuses every other one. Nothing is imported from torch.
"""

import collections
import io
import pickle
from pathlib import Path

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# torch storage types -> the numpy dtype of their elements (little-endian).
STORAGE_DTYPES = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class _StorageType:
    """Stand-in for a ``torch.*Storage`` class: only its dtype matters."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(STORAGE_DTYPES[name])


class _Storage:
    """A storage named in the pickle whose bytes come later in the file."""

    def __init__(self, storage_type, numel):
        self.dtype = storage_type.dtype
        self.numel = numel
        self.data = None  # 1-D numpy array, filled once the raw data is read


class _LazyTensor:
    """A tensor waiting for its storage: a strided view of it, copied on ``resolve``."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def resolve(self):
        data = self.storage.data
        itemsize = data.dtype.itemsize
        # np.ndarray checks that the view stays inside the storage's buffer.
        view = np.ndarray(
            self.size,
            data.dtype,
            buffer=data,
            offset=self.offset * itemsize,
            strides=tuple(s * itemsize for s in self.stride),
        )
        return np.array(view)  # own, contiguous, writable copy


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None
):
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _LazyTensor(storage, storage_offset, size, stride)


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals of a tensor state dict; anything else is refused."""

    def __init__(self, file, storages):
        super().__init__(file)
        self.storages = storages  # key -> _Storage, shared across the file's pickles

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refused to load the global {module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        _, storage_type, key, _location, numel, view_metadata = pid
        if not isinstance(storage_type, _StorageType) or view_metadata is not None:
            raise pickle.UnpicklingError("unsupported storage reference")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type, int(numel))
        return self.storages[key]


class _FormatError(Exception):
    """A check of ours failed: the reason is already the whole message."""


def read_legacy_torch_state_dict(path):
    """Read a legacy-format ``.pth`` state dict into numpy arrays.

    Args:
        path: the ``.pth`` file (written by torch < 1.6, or with
            ``_use_new_zipfile_serialization=False``).

    Returns:
        dict mapping each tensor name (e.g. ``"_conv_stem.weight"``) to a
        numpy array of the tensor's shape and dtype (float32 for weights,
        int64 for ``num_batches_tracked``), in the file's order.

    Raises:
        ValueError (one line) for a missing file, a file in another format
        (zip-based torch >= 1.6, truncated, not a pickle), a big-endian file,
        a pickle that asks for any global outside the allowed few, or one that
        does not hold a flat mapping of names to tensors.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ValueError(f"{path}: cannot read ({error.strerror or error})") from None
    if raw[:2] == b"PK":
        raise ValueError(f"{path}: zip-based torch file (torch >= 1.6), not the legacy format")
    stream = io.BytesIO(raw)
    storages = {}
    try:
        header = [_RestrictedUnpickler(stream, storages).load() for _ in range(3)]
        if header[0] != LEGACY_MAGIC or header[1] != LEGACY_PROTOCOL:
            raise _FormatError("no legacy torch magic number and protocol 1001")
        if not isinstance(header[2], dict) or not header[2].get("little_endian", False):
            raise _FormatError("not a little-endian legacy torch file")
        state = _RestrictedUnpickler(stream, storages).load()
        keys = _RestrictedUnpickler(stream, storages).load()
        if not isinstance(state, dict) or not all(
            isinstance(name, str) and isinstance(value, _LazyTensor) for name, value in state.items()
        ):
            raise _FormatError("the pickled object is not a mapping of names to tensors")
        if not isinstance(keys, list) or len(keys) != len(storages) or set(keys) != set(storages):
            raise _FormatError("the storage key list does not match the tensors' storages")
        for key in keys:
            storage = storages[key]
            count = int.from_bytes(stream.read(8), "little")
            nbytes = count * storage.dtype.itemsize
            if count != storage.numel or stream.tell() + nbytes > len(raw):
                raise _FormatError(f"storage {key!r} is truncated or has the wrong size")
            storage.data = np.frombuffer(raw, storage.dtype, count, stream.tell())
            stream.seek(nbytes, io.SEEK_CUR)
        return {name: tensor.resolve() for name, tensor in state.items()}
    except _FormatError as error:
        raise ValueError(f"{path}: {error}") from None
    except Exception as error:  # a malformed pickle can fail in many ways; all mean "wrong format"
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{path}: not a legacy torch state dict ({reason})") from None
