"""Cutting a commune into blocks, strips and lots — pure numpy, no GEOS.

Why this shape: a Red River Delta commune is a patchwork of village clusters
(narrow house lots behind each other, separated by alleys) and rice fields
(long strips), held together by a grid of field roads and irrigation canals.
Modelling the grid as *straight, slightly slanted lines* lets every block,
strip and lot be a convex quadrilateral whose corners are computed from line
intersections with the same arithmetic on both sides of a shared edge, so the
pieces tile the plane exactly and a million of them cost seconds, not minutes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# piece kinds
LOT, WIDE, ALLEY, FIELD, ROAD, CANAL = "lot", "wide", "alley", "field", "road", "canal"
CODE_OF = {LOT: "ONT", WIDE: "ONT", ALLEY: "DGT", ROAD: "DGT", CANAL: "DTL"}  # FIELD: the block's crop


@dataclass
class GridLines:
    """A family of near-parallel lines ``p = pos + slope * (q - q0)``, each with a strip width.

    For the "vertical" family p is x and q is y; for the "horizontal" one the reverse.
    """

    pos: np.ndarray
    slope: np.ndarray
    width: np.ndarray
    kind: list[str]  # ROAD, CANAL or "" (a field bank: a boundary without its own strip)
    q0: float


def make_lines(rng: np.random.Generator, lo: float, hi: float, q0: float) -> GridLines:
    """Lines every 170-320 m covering [lo, hi] with margin, typed road / canal / bank."""
    pos = [lo - 25.0 - rng.uniform(0, 60)]
    while pos[-1] < hi + 25.0:
        pos.append(pos[-1] + rng.uniform(170, 320))
    n = len(pos)
    draw = rng.random(n)
    kind = [ROAD if d < 0.45 else CANAL if d < 0.75 else "" for d in draw]
    width = np.array(
        [
            round(rng.uniform(4, 7) * 2) / 2 if k == ROAD else round(rng.uniform(3, 6) * 2) / 2 if k == CANAL else 0.0
            for k in kind
        ]
    )
    slope = rng.uniform(-0.035, 0.035, n)
    return GridLines(np.array(pos), slope, width, kind, q0)


def cross(v: GridLines, iv: int, dv: float, h: GridLines, ih: int, dh: float) -> tuple[float, float]:
    """Intersection of vertical line `iv` shifted by `dv` and horizontal line `ih` shifted by `dh`.

    Always called with the same arguments for a shared corner, so neighbours get
    bit-identical vertices.
    """
    a, b = v.pos[iv] + dv, v.slope[iv]
    c, d = h.pos[ih] + dh, h.slope[ih]
    x0, y0 = h.q0, v.q0
    x = (a + b * (c - d * x0 - y0)) / (1.0 - b * d)
    y = c + d * (x - x0)
    return (x, y)


@dataclass
class Pieces:
    """Quadrilateral pieces as coordinate arrays plus per-piece tags."""

    quads: list[np.ndarray] = field(default_factory=list)  # each (k, 4, 2)
    kinds: list[np.ndarray] = field(default_factory=list)
    codes: list[np.ndarray] = field(default_factory=list)  # base land-use code (may be refined later)
    lines: list[tuple[str, float, np.ndarray]] = field(default_factory=list)  # (kind, width, 2x2 centreline)

    def add(self, quads: np.ndarray, kind: str, code: str) -> None:
        self.quads.append(quads)
        self.kinds.append(np.full(len(quads), kind, dtype=object))
        self.codes.append(np.full(len(quads), code, dtype=object))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.quads:
            return np.zeros((0, 4, 2)), np.zeros(0, dtype=object), np.zeros(0, dtype=object)
        return np.concatenate(self.quads), np.concatenate(self.kinds), np.concatenate(self.codes)


def _band_bounds(
    rng: np.random.Generator, height: float, is_village: Callable[[float], bool], min_tail: float = 14.0
) -> tuple[list[tuple[float, float]], list[str]]:
    """Band boundaries (metres along the left and right sides) and band kinds.

    Village bands come in groups "lot row, lot row, alley" (houses back to back,
    facing an alley); field bands are 50-100 m deep. Each group gets its own small
    slant so boundaries are not all parallel, but the two sides of an alley are.
    """
    bounds: list[tuple[float, float]] = [(0.0, 0.0)]
    kinds: list[str] = []
    pos = 0.0
    while True:
        rem = height - pos
        village = is_village(min(pos + 12.0, height))
        if village:
            group = [(rng.uniform(16, 24), LOT), (rng.uniform(16, 24), LOT), (rng.uniform(3, 4), ALLEY)]
            slant = rng.uniform(-2, 2)
        else:
            group = [(rng.uniform(50, 100), FIELD)]
            slant = rng.uniform(-6, 6)
        if sum(d for d, _ in group) + min_tail > rem:
            if village and rem > 44:
                mid = pos + rem / 2
                bounds.append((mid, mid + slant))
                kinds.append(LOT)
            kinds.append(LOT if village else FIELD)
            bounds.append((height, height))
            return bounds, kinds
        for depth, kind in group:
            pos += depth
            bounds.append((pos, pos + slant))
            kinds.append(kind)


def _cuts(
    rng: np.random.Generator, width: float, kind: str, inside: Callable[[float], bool]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column cuts (0..1) on the lower and upper line of a band, and each column's kind.

    Along a village band the village can end part-way: house lots (7-14 m
    frontage, some wide lots for public buildings) give way to field strips, and
    an alley gives way to a field ditch, so village edges are ragged rather than
    following block boundaries.
    """
    if kind == ALLEY:
        ts = np.arange(0.0, width, 10.0)
        flags = np.array([bool(inside(t + 5.0)) for t in ts])
        cuts: list[float] = [0.0]
        kinds: list[str] = []
        start = 0
        for k in range(1, len(ts) + 1):
            if k == len(ts) or flags[k] != flags[start]:
                seg_lo, seg_hi = ts[start], (ts[k] if k < len(ts) else width)
                n = max(1, math.ceil((seg_hi - seg_lo) / 140.0))
                for m in range(1, n + 1):
                    cuts.append(seg_lo + (seg_hi - seg_lo) * m / n)
                    kinds.append(ALLEY if flags[start] else CANAL)
                start = k
        u = np.array(cuts) / width
        u[-1] = 1.0
        return u, u.copy(), np.array(kinds, dtype=object)
    widths: list[float] = []
    kinds = []
    total = 0.0
    while True:
        village = kind == LOT and bool(inside(total + 5.0))
        is_wide = village and rng.random() < 0.07
        if village:
            w, piece = (rng.uniform(25, 45), WIDE) if is_wide else (rng.uniform(7, 14), LOT)
            min_w = 7.0
        else:
            w, piece, min_w = rng.uniform(25, 50), FIELD, 25.0
        if total + w + min_w > width:
            rest = width - total
            widths.append(rest)
            kinds.append(WIDE if piece == LOT and rest > 28 else piece)
            break
        widths.append(w)
        kinds.append(piece)
        total += w
    cum = np.concatenate([[0.0], np.cumsum(widths)]) / width
    cum[-1] = 1.0
    top = cum.copy()
    jit = 4.0 if kind == FIELD else 1.5
    if len(cum) > 2:
        top[1:-1] += rng.uniform(-jit, jit, len(cum) - 2) / width
    return cum, top, np.array(kinds, dtype=object)


def subdivide_block(
    rng: np.random.Generator,
    corners: np.ndarray,
    is_village_pt: Callable[[float, float], bool],
    field_code: str,
    out: Pieces,
    want_lines: bool,
) -> None:
    """Cut one block (corners P00, P10, P11, P01) into bands and lots, appending to `out`."""
    if rng.random() < 0.5:  # bands along either axis of the block
        corners = corners[[1, 2, 3, 0]]
    p00, p10, p11, p01 = corners
    h_left, h_right = np.hypot(*(p01 - p00)), np.hypot(*(p11 - p10))
    height = (h_left + h_right) / 2
    width = (np.hypot(*(p10 - p00)) + np.hypot(*(p11 - p01))) / 2
    if height < 5 or width < 5:
        out.add(corners[None], FIELD, field_code)
        return

    def is_village(v_m: float) -> bool:
        """Does the band starting at `v_m` touch a village anywhere across the block?"""
        t = v_m / height
        left, right = p00 + t * (p01 - p00), p10 + t * (p11 - p10)
        return any(is_village_pt(*(left + s * (right - left))) for s in (0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95))

    bounds, kinds = _band_bounds(rng, height, is_village)
    for k, kind in enumerate(kinds):
        (bl0, br0), (bl1, br1) = bounds[k], bounds[k + 1]
        vl0, vr0 = min(bl0 / height, 1.0), min(br0 / height, 1.0)
        vl1, vr1 = min(bl1 / height, 1.0), min(br1 / height, 1.0)
        a, b = p00 + vl0 * (p01 - p00), p10 + vr0 * (p11 - p10)
        c, d = p00 + vl1 * (p01 - p00), p10 + vr1 * (p11 - p10)
        mid0, mid1 = (a + c) / 2, (b + d) / 2
        blen = float(np.hypot(*(mid1 - mid0))) or 1.0

        def inside(t_m: float, mid0=mid0, mid1=mid1, blen=blen) -> bool:
            x, y = mid0 + min(t_m / blen, 1.0) * (mid1 - mid0)
            return bool(is_village_pt(x, y))

        ub, ut, col_kinds = _cuts(rng, width, kind, inside)
        lower = a + ub[:, None] * (b - a)
        upper = c + ut[:, None] * (d - c)
        quads = np.stack([lower[:-1], lower[1:], upper[1:], upper[:-1]], axis=1)
        codes = np.array([CODE_OF.get(k, field_code) for k in col_kinds], dtype=object)
        out.quads.append(quads)
        out.kinds.append(col_kinds)
        out.codes.append(codes)
        if want_lines:
            for q, k in zip(quads, col_kinds):
                if k == ALLEY:
                    out.lines.append(
                        (ALLEY, float(np.hypot(*(q[3] - q[0]))), np.array([(q[0] + q[3]) / 2, (q[1] + q[2]) / 2]))
                    )
