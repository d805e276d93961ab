"""Helpers that make small images and files in official formats for the data tests."""
from __future__ import annotations

import io
import os
import struct

import numpy as np
from PIL import Image


def jpeg_bytes(h: int = 40, w: int = 48, seed: int = 0, mode: str = 'RGB') -> bytes:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).convert(mode).save(buf, format='JPEG', quality=90)
    return buf.getvalue()


def write(path, data: bytes) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    return str(path)


def _png(seed: int = 0) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (30, 20, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format='PNG')
    return buf.getvalue()


def idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08}[arr.dtype]
    return struct.pack('>BBBB', 0, 0, code, arr.ndim) + struct.pack(f'>{arr.ndim}i', *arr.shape) + arr.tobytes()
