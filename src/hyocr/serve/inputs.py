"""What the server accepts as an image, and how it refuses the rest.

Choices:
- Images arrive as `data:` URIs (OpenAI's `image_url`), as uploads, or as remote `http(s)` URLs.
  Every image is decoded through `processing.image.load_image` with the server's own pixel limit
  (`max_image_pixels`), which reads the header first: a decompression bomb (a tiny file claiming a
  huge canvas) is refused before any pixel is decoded.
- Remote URLs are refused unless their host is on the allow-list given at start-up, and even then
  refused when the name resolves to an internal address (loopback, private, link-local, multicast,
  reserved: no server-side request forgery into the machine or its network). Redirects are not
  followed (a redirect could point anywhere), the body is read up to `max_bytes`, and the fetch has a
  short timeout. Known gap: the name is resolved again by the HTTP client after our check, so a DNS
  answer that changes in between (rebinding) is not caught.
- PDFs are rendered with pypdfium2 at up to 144 dpi, the longest side capped at `PDF_MAX_SIDE`
  pixels, at most `max_pages` pages; the page size is checked before rendering. This module is
  small on purpose: `hyocr.documents` will own PDF handling and this should call it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from PIL import Image

from hyocr.errors import InputError, PixelBudgetError
from hyocr.processing.image import load_image

__all__ = [
    "InputLimits",
    "decode_data_uri",
    "decode_image",
    "fetch_url",
    "image_from_url",
    "is_pdf",
    "pdf_pages",
    "PDF_MAX_SIDE",
]

PDF_MAX_SIDE = 2048  # pixels; the release's max_pixels is 2048 x 2048


@dataclass
class InputLimits:
    max_image_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 40_000_000  # ~ 6300 x 6300; above that the header alone gets it refused
    max_images: int = 8  # per request
    max_pdf_pages: int = 16
    allow_url_hosts: frozenset[str] = field(default_factory=frozenset)
    url_timeout: float = 10.0


def decode_image(data: bytes, limits: InputLimits, name: str = "image") -> Image.Image:
    if len(data) > limits.max_image_bytes:
        raise PixelBudgetError(f"{name}: {len(data):,} bytes, over the limit of {limits.max_image_bytes:,}")
    return load_image(data, name=name, max_input_pixels=limits.max_image_pixels)


def decode_data_uri(uri: str, limits: InputLimits, name: str = "image") -> bytes:
    """`data:image/png;base64,....` -> bytes (the media type is not trusted; the decoder decides)."""
    head, sep, payload = uri.partition(",")
    if not sep or not head.startswith("data:"):
        raise InputError(f"{name}: not a data URI")
    if not head.endswith(";base64"):
        raise InputError(f"{name}: data URIs must be base64-encoded")
    if len(payload) > limits.max_image_bytes * 4 // 3 + 4:
        raise PixelBudgetError(f"{name}: over the limit of {limits.max_image_bytes:,} bytes")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{name}: invalid base64 in data URI") from None


def _internal(addr: str) -> bool:
    ip = ipaddress.ip_address(addr.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        not ip.is_global
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
    )


async def fetch_url(url: str, limits: InputLimits, name: str = "image") -> bytes:
    """Fetch a remote image whose host is allow-listed and resolves only to public addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{name}: unsupported image URL (use a data: URI or an http(s) URL)")
    host = parts.hostname.lower().rstrip(".")
    if host not in limits.allow_url_hosts:
        raise InputError(
            f"{name}: remote image URLs are refused for host '{host}' (not on this server's allow-list)"
        )
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80)
        )
    except OSError:
        raise InputError(f"{name}: cannot resolve host '{host}'") from None
    addrs = {info[4][0] for info in infos}
    if not addrs or any(_internal(a) for a in addrs):
        raise InputError(f"{name}: host '{host}' resolves to an internal address; refused")
    import httpx

    try:
        async with httpx.AsyncClient(
            timeout=limits.url_timeout, follow_redirects=False, trust_env=False
        ) as client:
            async with client.stream("GET", url) as resp:
                if resp.status_code != 200:
                    raise InputError(f"{name}: fetching the image URL gave HTTP {resp.status_code}")
                chunks, size = [], 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > limits.max_image_bytes:
                        raise PixelBudgetError(
                            f"{name}: remote image over the limit of {limits.max_image_bytes:,} bytes"
                        )
                    chunks.append(chunk)
                return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise InputError(f"{name}: fetching the image URL failed ({type(exc).__name__})") from None


async def image_from_url(url: str, limits: InputLimits, name: str = "image") -> Image.Image:
    """An OpenAI `image_url.url`: a data URI, or an allow-listed http(s) URL."""
    if url.startswith("data:"):
        data = decode_data_uri(url, limits, name)
    else:
        data = await fetch_url(url, limits, name)
    return await asyncio.to_thread(decode_image, data, limits, name)


def is_pdf(data: bytes) -> bool:
    return data[:1024].lstrip().startswith(b"%PDF-")


def pdf_pages(data: bytes, limits: InputLimits, name: str = "document") -> list[Image.Image]:
    """Render a PDF's pages (at most `limits.max_pdf_pages`) to RGB images."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise InputError(f"{name}: not a readable PDF ({str(exc).splitlines()[0]})") from None
    try:
        n = len(pdf)
        if n == 0:
            raise InputError(f"{name}: the PDF has no pages")
        if n > limits.max_pdf_pages:
            raise InputError(f"{name}: {n} pages, over the limit of {limits.max_pdf_pages} per request")
        out = []
        for i in range(n):
            page = pdf[i]
            w, h = page.get_size()  # points (1/72 inch)
            if w <= 0 or h <= 0:
                raise InputError(f"{name}: page {i + 1} has no area")
            scale = min(2.0, PDF_MAX_SIDE / max(w, h))
            if w * scale * h * scale > limits.max_image_pixels:
                raise PixelBudgetError(f"{name}: page {i + 1} is too large to render")
            out.append(page.render(scale=scale).to_pil().convert("RGB"))
            page.close()
        return out
    except pdfium.PdfiumError as exc:
        raise InputError(f"{name}: cannot render the PDF ({str(exc).splitlines()[0]})") from None
    finally:
        pdf.close()
