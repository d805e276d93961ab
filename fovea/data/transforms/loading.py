"""Reading and decoding images into uint8 CHW RGB tensors.

JPEG, PNG and WebP are decoded by ``torchvision.io`` (libjpeg-turbo, libpng,
libwebp) straight into tensors, with the EXIF orientation applied. Everything
else, and anything torchvision refuses (CMYK or 12-bit JPEGs, unusual PNGs,
TIFF, BMP, PPM/PGM, GIF), goes through Pillow: palettes are expanded, alpha is
dropped (as OpenCV's ``IMREAD_COLOR`` does in MMPretrain), 16-bit images are
scaled to 8 bits by ``>> 8``. Unreadable input raises :class:`DataError`
naming the file.
"""
from __future__ import annotations

import io
import os
import warnings
from typing import Any

import numpy as np
import torch
from torchvision.io import ImageReadMode
from torchvision.io import decode_image as _tv_decode_image
from torchvision.io import decode_jpeg as _tv_decode_jpeg

from fovea.data.transforms.base import BaseTransform
from fovea.registry import TRANSFORMS
from fovea.utils.errors import DataError

__all__ = ['LoadImageFromFile', 'decode_image_bytes', 'read_image']

_JPEG_MAGIC = b'\xff\xd8'
_PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
_WEBP_MAGIC = (b'RIFF', b'WEBP')

#: MMCV's ``color_type`` / flag names -> (channels, honour EXIF orientation)
_COLOR_TYPES = {
    'color': (3, True), 'grayscale': (1, True), 'unchanged': (0, True),
    'color_ignore_orientation': (3, False), 'grayscale_ignore_orientation': (1, False),
}


def _kind(data: bytes | bytearray) -> str:
    if data[:2] == _JPEG_MAGIC:
        return 'jpeg'
    if data[:8] == _PNG_MAGIC:
        return 'png'
    if data[:4] == _WEBP_MAGIC[0] and data[8:12] == _WEBP_MAGIC[1]:
        return 'webp'
    return 'other'


def _decode_pil(data: bytes | bytearray, channels: int, exif: bool, name: str) -> torch.Tensor:
    from PIL import Image, ImageOps
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # e.g. DecompressionBombWarning, palette transparency notes
            img = Image.open(io.BytesIO(bytes(data)))
            img.load()
            if exif:
                img = ImageOps.exif_transpose(img)
    except Exception as exc:  # PIL raises many types: UnidentifiedImageError, OSError, SyntaxError...
        raise DataError(f'cannot decode image {name}: {exc}. The file is corrupt, truncated or not an image; '
                        f'delete or replace it, or set skip_bad_samples=True on the dataset.') from None
    mode = img.mode
    if mode in ('I;16', 'I;16B', 'I;16L', 'I;16N', 'I'):
        arr = np.asarray(img)
        # 16-bit (or 32-bit int) samples: keep the top 8 bits, as OpenCV does for 8-bit output
        arr = (arr.astype(np.uint32) >> (8 if arr.max(initial=0) < 65536 else 24)).astype(np.uint8)
        if channels == 3:
            arr = np.repeat(arr[..., None], 3, axis=2)
        elif channels == 1 or channels == 0:
            arr = arr[..., None]
    elif mode == 'F':
        arr = np.clip(np.asarray(img), 0, 255).astype(np.uint8)
        arr = np.repeat(arr[..., None], 3, axis=2) if channels == 3 else arr[..., None]
    else:
        if channels == 3:
            img = img.convert('RGB')
        elif channels == 1:
            img = img.convert('L')
        elif mode not in ('L', 'RGB', 'RGBA', 'LA'):
            img = img.convert('RGBA' if 'A' in mode or 'transparency' in img.info else 'RGB')
        arr = np.array(img)
        if arr.ndim == 2:
            arr = arr[..., None]
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


#: default decompression-bomb guard: images with more pixels than this are refused before decoding
#: (Pillow's own error threshold, 2 x Image.MAX_IMAGE_PIXELS)
MAX_PIXELS = 2 * 89_478_485


def _header_size(data: bytes | bytearray) -> tuple[int, int] | None:
    """(width, height) read straight from a PNG or baseline/progressive JPEG header, else None."""
    if data[:8] == _PNG_MAGIC and len(data) >= 24 and data[12:16] == b'IHDR':
        return int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big')
    if data[:2] != _JPEG_MAGIC:
        return None
    i, n = 2, len(data)
    while i + 9 < n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            return int.from_bytes(data[i + 7:i + 9], 'big'), int.from_bytes(data[i + 5:i + 7], 'big')
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        i += 2 + int.from_bytes(data[i + 2:i + 4], 'big')
    return None


def _check_pixels(data: bytes | bytearray, max_pixels: int | None, name: str) -> None:
    """Read only the header and refuse images larger than ``max_pixels`` (a decompression bomb)."""
    if not max_pixels:
        return
    size = _header_size(data)
    if size is None:
        from PIL import Image
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                size = Image.open(io.BytesIO(data)).size  # lazy: parses the header only
        except Image.DecompressionBombError:
            size = None  # larger than Pillow's own hard limit (2 x MAX_IMAGE_PIXELS)
            if max_pixels < 2 * (Image.MAX_IMAGE_PIXELS or 0):
                raise DataError(f'image {name} has more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels, more than '
                                f'max_pixels={max_pixels:,}; refused before decoding (a decompression bomb, or a '
                                f'huge image).') from None
        except Exception:  # header unreadable: the decoder below reports the problem
            return
        if size is None:
            return
    w, h = size
    if w * h > max_pixels:
        raise DataError(f'image {name} is {w}x{h} = {w * h:,} pixels, more than max_pixels={max_pixels:,}; refused '
                        f'before decoding (a decompression bomb, or a huge image). Raise LoadImageFromFile('
                        f'max_pixels=...) if the image is genuine.')


def decode_image_bytes(data: bytes | bytearray | memoryview, color_type: str = 'color',
                       name: str = '<bytes>', max_pixels: int | None = MAX_PIXELS) -> torch.Tensor:
    """Decode encoded image bytes to a uint8 (C, H, W) tensor (RGB, or 1 channel for greyscale).

    Args:
        data: the encoded file content.
        color_type: 'color' (3-channel RGB), 'grayscale' (1 channel), 'unchanged' (as stored,
            alpha kept), or the ``*_ignore_orientation`` variants that skip the EXIF rotation.
        name: what to call the image in error messages (its path).
        max_pixels: refuse images with more pixels (checked from the header, before decoding);
            None or 0 turns the guard off.
    """
    if color_type not in _COLOR_TYPES:
        raise ValueError(f'color_type {color_type!r} is not one of {sorted(_COLOR_TYPES)}')
    if len(data) == 0:
        raise DataError(f'image file {name} is empty (0 bytes); delete or replace it, '
                        f'or set skip_bad_samples=True on the dataset.')
    channels, exif = _COLOR_TYPES[color_type]
    if not isinstance(data, bytearray):  # torch.frombuffer wants a writable buffer
        data = bytearray(data)
    _check_pixels(data, max_pixels, name)
    kind = _kind(data)
    if kind != 'other':
        mode = {3: ImageReadMode.RGB, 1: ImageReadMode.GRAY, 0: ImageReadMode.UNCHANGED}[channels]
        try:
            buf = torch.frombuffer(data, dtype=torch.uint8)
            with warnings.catch_warnings():
                # torchvision 0.29 announces that its decoders are deprecated (in favour of torchcodec)
                warnings.simplefilter('ignore')
                if kind == 'jpeg':
                    img = _tv_decode_jpeg(buf, mode=mode, apply_exif_orientation=exif)
                else:
                    img = _tv_decode_image(buf, mode=mode, apply_exif_orientation=exif)
            if img.dtype == torch.uint16:
                img = (img >> 8).to(torch.uint8)
            if img.dtype == torch.uint8 and img.ndim == 3 and img.shape[0] in (1, 2, 3, 4):
                return img
        except Exception:  # CMYK/12-bit JPEG, odd PNG, truncated data: let Pillow decide
            pass
    return _decode_pil(data, channels, exif, name)


def read_image(path: str, color_type: str = 'color', max_pixels: int | None = MAX_PIXELS) -> torch.Tensor:
    """Read and decode one image file (see :func:`decode_image_bytes`)."""
    try:
        with open(path, 'rb') as f:
            data = bytearray(os.fstat(f.fileno()).st_size)
            n = f.readinto(data)
            if n != len(data):
                del data[n:]
    except FileNotFoundError:
        raise DataError(f'image file {path} does not exist; check data_root/data_prefix and the '
                        f'annotation file.') from None
    except OSError as exc:
        raise DataError(f'cannot read image file {path}: {exc}') from None
    return decode_image_bytes(data, color_type, path, max_pixels)


@TRANSFORMS.register_module()
class LoadImageFromFile(BaseTransform):
    """Load ``results['img_path']`` (or decode ``results['img_bytes']``) into ``results['img']``.

    MMCV's arguments are accepted; images come out as uint8 (C, H, W) RGB tensors
    (``color_type='color'``, greyscale files are expanded to 3 channels) or 1-channel
    (``'grayscale'``). Adds ``img_shape`` and ``ori_shape`` as (H, W).

    Args:
        to_float32: convert the image to float32 (MMCV's option; fovea's pipelines keep uint8).
        color_type: 'color', 'grayscale', 'unchanged' or an ``*_ignore_orientation`` variant.
        imdecode_backend: accepted for compatibility; decoding always uses torchvision/Pillow.
        ignore_empty: return ``None`` (drop the sample) when the file does not exist.
        max_pixels: decompression-bomb guard: images with more pixels (read from the header) are a
            DataError before anything is decoded; None turns it off.
    """

    def __init__(self, to_float32: bool = False, color_type: str = 'color', imdecode_backend: str = 'cv2',
                 ignore_empty: bool = False, file_client_args: dict | None = None,
                 backend_args: dict | None = None, max_pixels: int | None = MAX_PIXELS):
        if color_type not in _COLOR_TYPES:
            raise ValueError(f'LoadImageFromFile color_type {color_type!r} is not one of {sorted(_COLOR_TYPES)}')
        self.to_float32 = to_float32
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.ignore_empty = ignore_empty
        self.max_pixels = max_pixels

    def transform(self, results: dict) -> dict | None:
        data: Any = results.get('img_bytes')
        path = results.get('img_path', '<bytes>')
        if data is None:
            if self.ignore_empty and not os.path.exists(path):
                return None
            img = read_image(path, self.color_type, self.max_pixels)
        else:
            img = decode_image_bytes(data, self.color_type, path, self.max_pixels)
            results.pop('img_bytes', None)
        if self.to_float32:
            img = img.float()
        results['img'] = img
        results['img_shape'] = tuple(img.shape[-2:])
        results['ori_shape'] = tuple(img.shape[-2:])
        results['mmpretrain_bgr'] = True  # MMPretrain decodes files to BGR (see transforms.processing)
        return results
