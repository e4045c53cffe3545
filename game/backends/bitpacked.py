"""Bit-packed numpy backend: 64 cells a word, a bit-sliced adder, cache-sized row blocks.

Row ``y`` of the torus is stored as ``ceil(W/64)`` little-endian ``uint64`` words: cell ``x`` is
bit ``x % 64`` of word ``x // 64``. Padding bits past ``W`` are kept zero. Two buffers of shape
``(H + 2, words)`` ping-pong; rows 0 and ``H + 1`` are ghost copies of the last and first row so
the vertical neighbours are plain slices (no ``np.roll`` copies).

One generation is ~30 whole-array bitwise operations (a carry-save adder of the eight neighbour
bits), run over blocks of rows small enough to stay in cache, split between two threads: numpy
releases the GIL inside these ufunc loops.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

from game.cells import Cells
from game.rules import Rule

Words = npt.NDArray[np.uint64]

_ONE = np.uint64(1)
_SHIFT_TOP = np.uint64(63)
# Words per block (256 KiB a temporary). Measured here: smaller blocks lose more to per-call
# overhead and GIL hand-offs than they win in cache hits; larger ones fall out of cache.
_BLOCK_WORDS = 1 << 15
# Below this many words a second thread costs more in hand-offs than it gains (measured: at
# 1024² one thread is faster, at 4096² two threads give ~1.6x).
_THREAD_MIN_WORDS = 1 << 16


def pack(cells: Cells) -> Words:
    """Pack a uint8 (H, W) lattice into (H, ceil(W/64)) little-endian uint64 words."""
    h, w = cells.shape
    nw = (w + 63) // 64
    padded = np.zeros((h, nw * 64), dtype=np.uint8)
    padded[:, :w] = cells
    packed = np.packbits(padded, axis=1, bitorder="little")
    return packed.view("<u8").astype(np.uint64, copy=False).reshape(h, nw)


def unpack(words: Words, width: int) -> Cells:
    """Unpack (H, nw) uint64 words into a uint8 (H, width) lattice of 0/1."""
    as_bytes = np.ascontiguousarray(words).astype("<u8", copy=False).view(np.uint8)
    bits: Cells = np.unpackbits(as_bytes, axis=1, count=width, bitorder="little")
    return bits


class _Scratch:
    """Per-thread temporaries for one block, allocated once."""

    def __init__(self, rows: int, nw: int) -> None:
        shape = (rows + 2, nw)
        self.left = np.empty(shape, np.uint64)
        self.right = np.empty(shape, np.uint64)
        self.tmp = np.empty(shape, np.uint64)
        self.x = np.empty(shape, np.uint64)  # left ^ right: 2-sum bit 0
        self.lr = np.empty(shape, np.uint64)  # left & right: 2-sum bit 1
        self.s0 = np.empty(shape, np.uint64)  # 3-sum (with centre) bit 0
        self.s1 = np.empty(shape, np.uint64)  # 3-sum bit 1
        inner = (rows, nw)
        self.a0 = np.empty(inner, np.uint64)
        self.a1 = np.empty(inner, np.uint64)
        self.b0 = np.empty(inner, np.uint64)
        self.b1 = np.empty(inner, np.uint64)
        self.t = np.empty(inner, np.uint64)


class BitPackedBackend:
    """The fast CPU path (``--backend numpy``), bit-exact with the uint8 reference."""

    name = "numpy"

    def __init__(self, rule: Rule, shape: tuple[int, int], threads: int | None = None) -> None:
        if sys.byteorder != "little":  # pragma: no cover - no big-endian targets
            raise RuntimeError("the bit-packed backend assumes a little-endian machine")
        self.rule = rule
        self.shape = shape
        h, w = shape
        self._h, self._w = h, w
        self._nw = (w + 63) // 64
        self._buf = [np.zeros((h + 2, self._nw), np.uint64) for _ in range(2)]
        self._cur = 0
        self._stepped = False
        rem = w % 64
        self._tail_mask = np.uint64((1 << rem) - 1) if rem else None
        self._top_bit = np.uint64((w - 1) % 64)
        block_rows = max(1, min(h, _BLOCK_WORDS // self._nw))
        self._blocks = [(r, min(h, r + block_rows)) for r in range(0, h, block_rows)]
        total_words = h * self._nw
        n_threads = threads if threads is not None else min(2, os.cpu_count() or 1)
        if total_words < _THREAD_MIN_WORDS or len(self._blocks) < 2:
            n_threads = 1
        self._threads = n_threads
        self._scratch = [_Scratch(block_rows, self._nw) for _ in range(n_threads)]
        self._pool = ThreadPoolExecutor(n_threads) if n_threads > 1 else None
        # The blocks each thread owns: contiguous halves keep each thread's rows in its cache.
        per = (len(self._blocks) + n_threads - 1) // n_threads
        self._shares = [self._blocks[i * per : (i + 1) * per] for i in range(n_threads)]
        self._terms = self._rule_terms(rule)

    @staticmethod
    def _rule_terms(rule: Rule) -> list[tuple[int, int]]:
        """(neighbour count, 1 birth-only / 2 survive-only / 3 both) for the general path."""
        terms = []
        for k in range(9):
            flag = (1 if k in rule.birth else 0) | (2 if k in rule.survive else 0)
            if flag:
                terms.append((k, flag))
        return terms

    # -- the LifeBackend interface ------------------------------------------------------------

    def set_cells(self, cells: Cells) -> None:
        """Replace the lattice with ``cells`` (uint8 0/1, shape ``self.shape``)."""
        if cells.shape != self.shape:
            raise ValueError(f"cells have shape {cells.shape}, lattice is {self.shape}")
        buf = self._buf[self._cur]
        buf[1 : self._h + 1] = pack((np.asarray(cells) != 0).astype(np.uint8))
        self._wrap_rows(buf)
        self._buf[1 - self._cur][...] = buf
        self._stepped = False

    def get_cells(self) -> Cells:
        """Return a fresh uint8 copy of the lattice."""
        return unpack(self.words(), self._w)

    def words(self) -> Words:
        """The packed lattice as a read-only (H, nw) view (valid until the next step)."""
        view = self._buf[self._cur][1 : self._h + 1]
        view.flags.writeable = False
        return view

    def step(self, generations: int = 1) -> None:
        """Advance by ``generations`` generations."""
        for _ in range(generations):
            src = self._buf[self._cur]
            dst = self._buf[1 - self._cur]
            dst.flags.writeable = True
            src.flags.writeable = True
            if self._pool is None:
                self._run_blocks(src, dst, self._blocks, self._scratch[0])
            else:
                futures = [
                    self._pool.submit(self._run_blocks, src, dst, share, scratch)
                    for share, scratch in zip(self._shares, self._scratch, strict=True)
                ]
                for f in futures:
                    f.result()
            self._wrap_rows(dst)
            self._cur = 1 - self._cur
            self._stepped = True

    def births(self) -> Cells:
        """Cells born in the most recent generation (the other buffer holds the one before)."""
        if not self._stepped:
            return np.zeros(self.shape, np.uint8)
        h = self._h
        cur = self._buf[self._cur][1 : h + 1]
        prev = self._buf[1 - self._cur][1 : h + 1]
        return unpack(cur & ~prev, self._w)

    def population(self) -> int:
        """Number of live cells."""
        return int(np.bitwise_count(self._buf[self._cur][1 : self._h + 1]).sum(dtype=np.int64))

    def close(self) -> None:
        """Stop the worker threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # -- the kernel ----------------------------------------------------------------------------

    def _wrap_rows(self, buf: Words) -> None:
        """Refresh the ghost rows: row 0 mirrors the last row, row H+1 the first."""
        buf[0] = buf[self._h]
        buf[self._h + 1] = buf[1]

    def _run_blocks(
        self, src: Words, dst: Words, blocks: list[tuple[int, int]], s: _Scratch
    ) -> None:
        for r0, r1 in blocks:
            self._block(src, dst, r0, r1, s)

    def _block(self, src: Words, dst: Words, r0: int, r1: int, s: _Scratch) -> None:
        """Next state of rows [r0, r1) from ext rows [r0, r1 + 2) of ``src`` into ``dst``."""
        n = r1 - r0
        a = src[r0 : r1 + 2]
        left, right, tmp = s.left[: n + 2], s.right[: n + 2], s.tmp[: n + 2]
        x, lr, s0, s1 = s.x[: n + 2], s.lr[: n + 2], s.s0[: n + 2], s.s1[: n + 2]
        nw = self._nw

        # West neighbour (cell x-1) and east neighbour (cell x+1) of every cell, across words.
        np.left_shift(a, _ONE, out=left)
        np.right_shift(a, _ONE, out=right)
        if nw > 1:
            np.right_shift(a[:, :-1], _SHIFT_TOP, out=tmp[:, 1:])
            np.bitwise_or(left[:, 1:], tmp[:, 1:], out=left[:, 1:])
            np.left_shift(a[:, 1:], _SHIFT_TOP, out=tmp[:, :-1])
            np.bitwise_or(right[:, :-1], tmp[:, :-1], out=right[:, :-1])
        # The torus seam: cell 0's west is cell W-1, cell W-1's east is cell 0.
        t = tmp[:, 0]
        np.right_shift(a[:, -1], self._top_bit, out=t)
        np.bitwise_and(t, _ONE, out=t)
        np.bitwise_or(left[:, 0], t, out=left[:, 0])
        np.bitwise_and(a[:, 0], _ONE, out=t)
        np.left_shift(t, self._top_bit, out=t)
        np.bitwise_or(right[:, -1], t, out=right[:, -1])

        # Horizontal sums: 2-sum without the centre (x, lr), 3-sum with it (s0, s1).
        np.bitwise_xor(left, right, out=x)
        np.bitwise_and(left, right, out=lr)
        np.bitwise_xor(x, a, out=s0)
        np.bitwise_and(x, a, out=s1)
        np.bitwise_or(s1, lr, out=s1)

        # Vertical: count = (u0 + m0 + d0) + 2 (u1 + m1 + d1) with rows above, centre, below.
        u0, u1, d0, d1 = s0[:-2], s1[:-2], s0[2:], s1[2:]
        m0, m1 = x[1:-1], lr[1:-1]
        a0, a1, b0, b1, t2 = s.a0[:n], s.a1[:n], s.b0[:n], s.b1[:n], s.t[:n]
        np.bitwise_xor(u0, m0, out=t2)
        np.bitwise_xor(t2, d0, out=a0)
        np.bitwise_and(t2, d0, out=t2)
        np.bitwise_and(u0, m0, out=a1)
        np.bitwise_or(a1, t2, out=a1)
        np.bitwise_xor(u1, m1, out=t2)
        np.bitwise_xor(t2, d1, out=b0)
        np.bitwise_and(t2, d1, out=t2)
        np.bitwise_and(u1, m1, out=b1)
        np.bitwise_or(b1, t2, out=b1)
        # count = a0 + 2 (a1 + b0) + 4 b1  ->  bits c0 = a0, c1 = a1^b0, c2 = b1^k, c3 = b1&k.
        k = t2
        np.bitwise_and(a1, b0, out=k)
        np.bitwise_xor(a1, b0, out=a1)  # a1 := c1
        alive = a[1:-1]
        out = dst[r0 + 1 : r1 + 1]
        if self.rule.is_conway:
            # 2 or 3 neighbours (c1 set, c2 clear; c3 only with count 8 where c1 is clear),
            # and alive or exactly 3 (c0 set).
            np.bitwise_xor(b1, k, out=b1)  # b1 := c2
            np.bitwise_or(a0, alive, out=out)
            np.bitwise_and(out, a1, out=out)
            np.bitwise_and(out, ~b1, out=out)
        else:
            self._general(out, alive, a0, a1, b1, k, b0)
        if self._tail_mask is not None:
            np.bitwise_and(out[:, -1], self._tail_mask, out=out[:, -1])

    def _general(
        self, out: Words, alive: Words, c0: Words, c1: Words, b1: Words, k: Words, t: Words
    ) -> None:
        """Any Life-like rule: OR of the minterms count == k, gated by alive for S / B."""
        c2 = b1 ^ k
        c3 = b1 & k
        bits = (c0, c1, c2, c3)
        nots = tuple(~b for b in bits)
        out[...] = 0
        for count, flag in self._terms:
            np.bitwise_and(
                bits[0] if count & 1 else nots[0], bits[1] if count & 2 else nots[1], out=t
            )
            np.bitwise_and(t, bits[2] if count & 4 else nots[2], out=t)
            np.bitwise_and(t, bits[3] if count & 8 else nots[3], out=t)
            if flag == 1:
                np.bitwise_and(t, ~alive, out=t)
            elif flag == 2:
                np.bitwise_and(t, alive, out=t)
            np.bitwise_or(out, t, out=out)
