"""Kronecker-structured matrices: the grid programs' blocks kept as sums of Kronecker
products of one-agent operators, assembled only when asked.

Every block of the grid programs of 004 is a sum of terms c · F_1 ⊗ ... ⊗ F_m: one
factor per agent's axis of X(k) (an identity, or a one-agent derivative ∇+, ∇̃+ on
k² + 1 points) and one per coefficient axis (a row of payoffs over outcomes). Kept in
that form, a block

- is applied to a vector without being assembled (:meth:`Kron.__matmul__`: one small
  sparse product per factor along its axis), so a program on X(30)'s 2.4 million
  columns is checked in a tenth of a second where assembling its matrix takes seconds;
- is *folded* factor by factor (:meth:`Kron.fold`): replacing each grid axis's factor
  F by R F C, for one-agent maps R (rows) and C (columns) that merge or drop points
  (:class:`IndexFold`), gives the program on a box of low profiles
  (:mod:`robustmech.programs.truncation`) without the whole program ever being built.

:class:`Blocks` stacks such blocks (and plain sparse matrices) as ``scipy.sparse.bmat``
does. Both assemble to the CSR matrix the same terms give through ``scipy.sparse.kron``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Union, overload

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Axis:
    """One axis of a Kronecker product: its sizes, and whether its rows (columns) are one
    agent's points of the grid (which a fold acts on) or another index (outcomes,
    coefficient rows)."""

    rows: int
    cols: int
    row_grid: bool = False
    col_grid: bool = False


Factor = Union[sp.csr_matrix, None]  # None: the identity of its axis


class Kron:
    """Σ_t c_t · F_t1 ⊗ ... ⊗ F_tm over fixed axes (row index in C order over the axes'
    rows, column index over their columns, as ``scipy.sparse.kron``)."""

    __array_ufunc__ = None  # numpy scalars defer to __rmul__

    def __init__(self, axes: tuple[Axis, ...], terms: tuple[tuple[float, tuple[Factor, ...]], ...]):
        self.axes = tuple(axes)
        # every factor a CSR matrix (or None): the folds and the assembly read CSR arrays,
        # and keep what they made from a factor under its identity
        self.terms = tuple((c, tuple(f if f is None or type(f) is sp.csr_matrix else sp.csr_matrix(f) for f in fs))
                           for c, fs in terms)
        for _, factors in self.terms:
            if len(factors) != len(self.axes):
                raise ValueError("a term has one factor per axis")

    # -- construction --------------------------------------------------------------

    @staticmethod
    def identity(size: int, grid: bool = False) -> Kron:
        return Kron((Axis(size, size, grid, grid),), ((1.0, (None,)),))

    @staticmethod
    def factor(matrix, row_grid: bool = False, col_grid: bool = False) -> Kron:
        m = sp.csr_matrix(matrix)
        return Kron((Axis(m.shape[0], m.shape[1], row_grid, col_grid),), ((1.0, (m,)),))

    @property
    def shape(self) -> tuple[int, int]:
        return (int(np.prod([a.rows for a in self.axes])), int(np.prod([a.cols for a in self.axes])))

    def kron(self, other: Kron) -> Kron:
        """self ⊗ other: the axes side by side, every term of one with every term of the other."""
        return Kron(self.axes + other.axes,
                    tuple((c * d, f + g) for c, f in self.terms for d, g in other.terms))

    def __add__(self, other: Kron) -> Kron:
        if not isinstance(other, Kron):
            return NotImplemented
        if other.axes != self.axes:
            raise ValueError("only blocks over the same axes add")
        return Kron(self.axes, self.terms + other.terms)

    def __neg__(self) -> Kron:
        return self * -1.0

    def __sub__(self, other: Kron) -> Kron:
        return self + (-other)

    def __mul__(self, scalar: float) -> Kron:
        scalar = float(scalar)
        return Kron(self.axes, tuple((c * scalar, f) for c, f in self.terms if c * scalar != 0.0))

    __rmul__ = __mul__

    @property
    def T(self) -> Kron:
        return Kron(tuple(Axis(a.cols, a.rows, a.col_grid, a.row_grid) for a in self.axes),
                    tuple((c, tuple(None if f is None else f.T.tocsr() for f in fs)) for c, fs in self.terms))

    # -- use -----------------------------------------------------------------------

    def tocsr(self) -> sp.csr_matrix:
        """The assembled matrix (``scipy.sparse.kron`` of each term's factors, summed)."""
        total = None
        entries: dict[int, tuple] = {}  # a factor's entries, made once for the terms that share it
        for c, factors in self.terms:
            term = _kron_all(_collapsed(self.axes, factors), c, entries)
            # the first term as the empty matrix plus it would give it: its zeros dropped
            total = _without_zeros(term) if total is None else total + term
        return sp.csr_matrix(self.shape) if total is None else total

    def __matmul__(self, v: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape[0])
        self.accumulate(np.asarray(v, dtype=float), out)
        return out

    def accumulate(self, v: np.ndarray, out: np.ndarray) -> None:
        """``out += self @ v``, in place (``out`` a contiguous vector)."""
        cols = tuple(a.cols for a in self.axes)
        total = out.reshape(tuple(a.rows for a in self.axes))  # a view: each term added in place
        if not np.may_share_memory(total, out):
            raise ValueError("accumulate needs an output vector that reshapes in place")
        for c, factors in self.terms:
            t = v.reshape(cols)
            # the factors that shrink the tensor first (a row of payoffs over outcomes), so
            # that the grid's factors act on the smallest tensor
            present = [(j, f) for j, f in enumerate(factors) if f is not None]
            for j, f in sorted(present, key=lambda item: item[1].shape[0] / item[1].shape[1]):
                t = _along(f, t, j)
            if c == 1.0:
                total += t
            elif c == -1.0:
                total -= t
            else:
                total += c * t

    def fold(self, fold: IndexFold, done: dict | None = None) -> Kron:
        """Each grid axis's factor F replaced by R F (where its rows are grid points) and
        F C (where its columns are), for the one-agent maps R and C of ``fold``, the same
        on every agent's axis. ``done`` keeps the folded factors for other blocks folded
        by the same maps (under the identities of the factor and the maps, which it holds
        on to)."""
        axes = tuple(Axis(fold.rows if a.row_grid else a.rows, fold.cols if a.col_grid else a.cols,
                          a.row_grid, a.col_grid) for a in self.axes)
        terms = []
        # a factor shared by terms and blocks (∇+_i in every state) folds once
        done = {} if done is None else done
        for coef, factors in self.terms:
            folded = []
            for a, f in zip(self.axes, factors):
                if not (a.row_grid or a.col_grid):
                    folded.append(f)
                    continue
                key = (a, id(f), id(fold))
                if key not in done:
                    # the factor and the maps kept with it: their identities are the key
                    done[key] = (fold.apply(a, f), f, fold)
                folded.append(done[key][0])
            terms.append((coef, tuple(folded)))
        return Kron(axes, tuple(terms))


@dataclass(frozen=True, eq=False)
class IndexFold:
    """The one-agent maps R (rows, folded × points) and C (columns, points × folded) of a
    fold onto a box, each sending every point of an agent's axis to at most one folded
    point with weight 1 (points merged into the box's edge, or dropped beyond it: the
    maps of :func:`robustmech.programs.folding.one_agent_fold`). R F C is then F's
    entries renumbered, those that land on one entry summed, without a sparse product."""

    row_target: np.ndarray  # per point: its folded row, or -1 where R drops it
    rows: int
    col_target: np.ndarray  # per point: its folded column, or -1 where C drops it
    cols: int

    def matrices(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """R and C."""
        def as_matrix(target: np.ndarray, size: int) -> sp.csr_matrix:
            kept = np.flatnonzero(target >= 0)
            return sp.csr_matrix((np.ones(len(kept)), (target[kept], kept)), shape=(size, len(target)))

        return as_matrix(self.row_target, self.rows), as_matrix(self.col_target, self.cols).T.tocsr()

    def first_columns(self, count: int) -> IndexFold:
        """The fold with only the first ``count`` folded columns kept (C[:, :count])."""
        return IndexFold(self.row_target, self.rows, np.where(self.col_target < count, self.col_target, -1), count)

    def apply(self, axis: Axis, f: Factor) -> sp.csr_matrix:
        """R F C for a factor on ``axis`` (R where its rows are grid points, C where its
        columns are; None is the identity), canonical CSR: the entries landing on one
        place (F's own duplicates too) summed in F's stored order, exact zeros dropped (as
        a sparse product drops them)."""
        if f is None:
            rows = cols = np.arange(axis.rows, dtype=np.int64)
            values = np.ones(axis.rows)
        else:
            m = f if isinstance(f, sp.csr_matrix) else sp.csr_matrix(f)  # duplicates are summed below
            rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
            cols, values = m.indices.astype(np.int64), m.data
        n_rows, n_cols = axis.rows, axis.cols
        if axis.row_grid:
            rows, n_rows = self.row_target[rows], self.rows
        if axis.col_grid:
            cols, n_cols = self.col_target[cols], self.cols
        kept = (rows >= 0) & (cols >= 0)
        place = rows[kept] * n_cols + cols[kept]
        order = np.argsort(place, kind="stable")
        place, values = place[order], values[kept][order]
        if len(place):
            first = np.flatnonzero(np.r_[True, place[1:] != place[:-1]])
            values, place = np.add.reduceat(values, first), place[first]
            nonzero = values != 0.0
            values, place = values[nonzero], place[nonzero]
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(place // n_cols, minlength=n_rows), out=indptr[1:])
        return sp.csr_matrix((values, place % n_cols, indptr), shape=(n_rows, n_cols))


def _collapsed(axes: tuple[Axis, ...], factors: tuple[Factor, ...]) -> list:
    """A term's factors with each run of identities as one identity, given by its size
    (I_a ⊗ I_b = I_ab, the same entries and values: a product by 1.0 is exact), so that a
    term such as I ⊗ I ⊗ I ⊗ row on the N = 3 grid is one Kronecker product, not three."""
    mats: list = []
    run = 0
    for a, f in zip(axes, factors):
        if f is None:
            run = (run or 1) * a.rows
            continue
        if run:
            mats.append(int(run))
            run = 0
        mats.append(f)
    if run:
        mats.append(int(run))
    return mats


def _kron_all(mats: list, scale: float = 1.0, entries: dict | None = None) -> sp.csr_matrix:
    """``scale * scipy.sparse.kron`` of the CSR matrices (an int: the identity of that size),
    left to right, as CSR: the same entries and values (each the product of its factors'
    entries, left to right, times ``scale``), in one pass over the factors' entries
    instead of a COO round trip per product, and scaled before the CSR is made (not a
    copy of it). ``entries`` keeps each factor's entries between calls. Factors in
    canonical form give the product's entries row by row with sorted columns; any other
    goes through scipy, which sums duplicates its way."""
    if len(mats) == 1 or not all(isinstance(m, int) or m.has_canonical_format for m in mats):
        mats = [sp.identity(m, format="csr") if isinstance(m, int) else m for m in mats]
        return scale * reduce(lambda left, right: sp.kron(left, right, format="csr"), mats)
    shapes: list[tuple[int, int]] = [(m, m) if isinstance(m, int) else (int(m.shape[0]), int(m.shape[1]))
                                     for m in mats]
    shape = (int(np.prod([r for r, _ in shapes])), int(np.prod([c for _, c in shapes])))
    # 32-bit indices where the product's shape allows (half the memory, and the dtype
    # scipy would give the CSR anyway)
    index = np.int32 if max(shape) < np.iinfo(np.int32).max else np.int64
    entries = {} if entries is None else entries
    rows: np.ndarray = np.zeros(1, dtype=index)
    cols: np.ndarray = rows
    data: np.ndarray = np.ones(1)
    for m, (n_rows, n_cols) in zip(mats, shapes):
        r, c, v = _entries(m, index, entries)
        rows = (rows[:, None] * np.asarray(n_rows, dtype=index) + r).ravel()
        cols = (cols[:, None] * np.asarray(n_cols, dtype=index) + c).ravel()
        data = (data[:, None] * v).ravel()
    return sp.csr_matrix((scale * data, (rows, cols)), shape=shape)


def _entries(m, index, made: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows, columns and values of a canonical CSR matrix (an int: the identity of that
    size), row by row, indices as ``index``; kept in ``made`` by the matrix's identity,
    with the matrix (so that the identity is not another's while ``made`` lives)."""
    key = ("identity", m, index) if isinstance(m, int) else ("matrix", id(m), index)
    if key not in made:
        if isinstance(m, int):
            made[key] = (np.arange(m, dtype=index), np.arange(m, dtype=index), np.ones(m)), m
        else:
            made[key] = (np.repeat(np.arange(m.shape[0], dtype=index), np.diff(m.indptr)),
                         m.indices.astype(index, copy=False), m.data), m
    return made[key][0]


def _without_zeros(m: sp.csr_matrix) -> sp.csr_matrix:
    """``m`` with its explicit zeros dropped (in place: ``m`` is a fresh product), as the
    empty matrix plus ``m`` gives it; through that sum where ``m`` has duplicates."""
    if not m.has_canonical_format:
        return sp.csr_matrix(m.shape) + m
    if m.nnz and not m.data.all():
        m.eliminate_zeros()
    return m


def _along(f: sp.csr_matrix, t: np.ndarray, axis: int) -> np.ndarray:
    """The factor ``f`` applied along ``axis`` of the tensor ``t``."""
    if f.shape[0] * f.shape[1] <= SMALL_FACTOR:
        # a small factor (payoffs over outcomes, a polytope's rows): dense, in one tensordot
        return np.moveaxis(np.tensordot(f.toarray(), t, axes=([1], [axis])), 0, axis)
    moved = np.moveaxis(t, axis, 0)
    shape = moved.shape
    out = f @ moved.reshape(shape[0], -1)
    return np.moveaxis(np.asarray(out).reshape((f.shape[0],) + shape[1:]), 0, axis)


#: a factor with at most this many entries is applied as a dense array
SMALL_FACTOR = 4096


Operator = Union[Kron, "Blocks", sp.spmatrix]


class Blocks:
    """Operators laid out as ``scipy.sparse.bmat`` lays out matrices (None: a zero block),
    applied and transposed without assembling them."""

    __array_ufunc__ = None

    def __init__(self, cells: list[list[Operator | None]], row_sizes: list[int] | None = None,
                 col_sizes: list[int] | None = None):
        self.cells = cells
        self.row_sizes = row_sizes or [next(op.shape[0] for op in row if op is not None) for row in cells]
        columns = list(zip(*cells))
        self.col_sizes = col_sizes or [next(op.shape[1] for op in column if op is not None) for column in columns]
        for i, row in enumerate(cells):
            for j, op in enumerate(row):
                if op is not None and tuple(op.shape) != (self.row_sizes[i], self.col_sizes[j]):
                    raise ValueError(f"block ({i}, {j}) has shape {op.shape}, its row and column need "
                                     f"{(self.row_sizes[i], self.col_sizes[j])}")

    @property
    def shape(self) -> tuple[int, int]:
        return (int(sum(self.row_sizes)), int(sum(self.col_sizes)))

    @property
    def row_starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.row_sizes)]).astype(np.int64)

    @property
    def col_starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.col_sizes)]).astype(np.int64)

    def __matmul__(self, v: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape[0])
        self.accumulate(np.asarray(v, dtype=float), out)
        return out

    def accumulate(self, v: np.ndarray, out: np.ndarray) -> None:
        """``out += self @ v``, in place, block by block."""
        rs, cs = self.row_starts, self.col_starts
        for i, row in enumerate(self.cells):
            for j, op in enumerate(row):
                if op is None:
                    continue
                part, into = v[cs[j]:cs[j + 1]], out[rs[i]:rs[i + 1]]
                if isinstance(op, (Kron, Blocks)):
                    op.accumulate(part, into)
                else:
                    into += op @ part

    @property
    def T(self) -> Blocks:
        cells: list[list[Operator | None]] = [[None if op is None else op.T for op in column]
                                              for column in zip(*self.cells)]
        return Blocks(cells, list(self.col_sizes), list(self.row_sizes))

    def __neg__(self) -> Blocks:
        return self * -1.0

    def __mul__(self, scalar: float) -> Blocks:
        return Blocks([[None if op is None else op * scalar for op in row] for row in self.cells],
                      list(self.row_sizes), list(self.col_sizes))

    __rmul__ = __mul__

    def tocsr(self) -> sp.csr_matrix:
        cells = [[None if op is None else tocsr(op) for op in row] for row in self.cells]
        present = [op for row in cells for op in row if op is not None]
        dtype = np.result_type(*(op.dtype for op in present)) if present else np.float64
        # every zero block as an empty CSR block of its size (and the blocks' dtype): bmat
        # then stacks the CSR blocks directly (its fast path) instead of going through COO;
        # the same matrix, its rows' entries in the same (sorted) order
        cells = [[sp.csr_matrix((self.row_sizes[i], self.col_sizes[j]), dtype=dtype) if op is None else op
                  for j, op in enumerate(row)] for i, row in enumerate(cells)]
        return sp.bmat(cells, format="csr")

    def fold(self, fold: IndexFold, done: dict | None = None) -> Blocks | None:
        """Every block folded (:meth:`Kron.fold`); None where one is a plain matrix, which
        carries no axes to fold, or where a row or column holds only zero blocks (its
        folded size is not known here)."""
        if any(op is not None and not isinstance(op, (Kron, Blocks)) for row in self.cells for op in row):
            return None
        done = {} if done is None else done
        folded = [[None if op is None else op.fold(fold, done) for op in row] for row in self.cells]
        if any(op is None and old is not None for row, old_row in zip(folded, self.cells)
               for op, old in zip(row, old_row)):
            return None  # a nested block holds a plain matrix
        if any(all(op is None for op in row) for row in folded) or \
                any(all(op is None for op in column) for column in zip(*folded)):
            return None
        return Blocks(folded)


def fold(op: Operator, fold: IndexFold, done: dict | None = None) -> Kron | Blocks | None:
    """``op`` folded (``done``: as :meth:`Kron.fold`), or None where it is (or holds) a
    plain matrix."""
    return op.fold(fold, done) if isinstance(op, (Kron, Blocks)) else None


def tocsr(op: Operator) -> sp.csr_matrix:
    """Any operator of this module, or a sparse matrix, as CSR."""
    return op.tocsr() if isinstance(op, (Kron, Blocks)) else sp.csr_matrix(op)


@overload
def kron(left: Kron, right) -> Kron: ...


@overload
def kron(left: sp.spmatrix | np.ndarray, right) -> sp.csr_matrix: ...


def kron(left, right):
    """``left ⊗ right``: structured where ``left`` is; ``right`` a structured block or a
    small matrix (a coefficient row, a polytope's rows: an axis that is not the grid's)."""
    if isinstance(left, Kron):
        return left.kron(right if isinstance(right, Kron) else Kron.factor(right))
    return sp.kron(left, right, format="csr")


def vstack(ops: list) -> Operator:
    if all(not isinstance(op, (Kron, Blocks)) for op in ops):
        return sp.vstack(ops, format="csr")
    return Blocks([[op] for op in ops])


def hstack(ops: list) -> Operator:
    if all(not isinstance(op, (Kron, Blocks)) for op in ops):
        return sp.hstack(ops, format="csr")
    return Blocks([list(ops)])
