"""A linear program as arrays, with named variable blocks and constraint families.

Every program of robustmech is assembled as a :class:`LinearProgram`: a cost vector,
a sparse constraint matrix with row bounds, and column bounds, built block by block
from numpy/scipy arrays. Names survive: a variable block (``m``, ``lambda``) knows its
columns and shape, a constraint family (``strategic``, ``participation``) its rows,
so solutions are read back by name and a failed solve can blame a family.

The same program is available as a ``pyomo.environ`` model (:meth:`LinearProgram.to_pyomo`,
:mod:`robustmech.pyomo`) to inspect, extend and solve with any Pyomo solver, and to
export as ``.lp``/``.mps``; the solve layer hands the arrays to HiGHS directly.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..lower.kron import Blocks, tocsr

# What a symmetry of the environment (a relabeling (π, τ, φ) of agents, states and
# outcome coordinates, lower/symmetry.py) permutes. An index set of another kind (or of
# none) is not acted on, so a program with such a column block is never reduced.
INDEX_KINDS = ("profile", "agent", "state", "outcome", "state class")

# An entry below this share of the largest entry of its row is the rounding error of a
# sum that is zero (w·I - Σ_i u_i ∇̃+_i on the N = 3 public good leaves 595,515 entries
# of 1e-17 to 4e-15 in UB-P-6, 28% of its matrix). HiGHS drops entries below 1e-9
# itself; the symmetry checks, the certificates and Clarabel's factorization would
# carry them. Only programs built from payoffs and grid operators drop them
# (ProgramBuilder(drop_rounding=True)): a structure a solver returned may hold 1e-15
# entries that are not noise.
ROUNDING = 1e-13


@dataclass(frozen=True, eq=False)
class IndexSet:
    """One index of a variable block or constraint family, in economic terms.

    ``name`` is the set's symbol (``X`` for action or signal profiles, ``Omega`` for
    outcomes, ``Theta`` for states, ``I`` for agents). Members are either ``labels``
    (outcome names, state labels, agent numbers, any hashable values) or, for a set
    of profiles, the product of ``axes`` (each agent's values), whose members are
    tuples in C order and are only generated when asked for (X(30) has 811,801).
    ``kind`` says how a symmetry of the environment acts on the set (``INDEX_KINDS``).
    A set of kind ``"state class"`` has, for each member, the set of state labels it
    stands for in ``classes`` (the states with θ_c = v, for the marginal (c, v) of an
    ambiguous prior); a symmetry maps a member to the member whose class is the image
    of its class.
    """

    name: str
    labels: tuple = ()
    axes: tuple = ()
    kind: str = ""
    description: str = ""
    classes: tuple = ()

    def __post_init__(self):
        if self.kind and self.kind not in INDEX_KINDS:
            raise ValueError(f"index kind must be one of {INDEX_KINDS}, got {self.kind!r}")
        if self.labels and self.axes:
            raise ValueError("an index set has labels or axes, not both")
        classed = self.kind == "state class"
        if classed != bool(self.classes) or (classed and len(self.classes) != len(self.labels)):
            raise ValueError("a set of kind 'state class' has one class of states per member, and only it has classes")

    @property
    def shape(self) -> tuple[int, ...]:
        """Each agent's number of values, for a set of profiles; (size,) otherwise."""
        return tuple(len(a) for a in self.axes) if self.axes else (len(self.labels),)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def dimen(self) -> int:
        """Entries per member: the number of agents for profiles, else 1 (or the labels' tuple length)."""
        if self.axes:
            return len(self.axes)
        first = self.labels[0] if self.labels else None
        return len(first) if isinstance(first, tuple) else 1

    @cached_property
    def members(self) -> tuple:
        if self.axes:
            return tuple(itertools.product(*(tuple(_plain(v) for v in a) for a in self.axes)))
        return tuple(_plain(v) for v in self.labels)

    def __len__(self) -> int:
        return self.size


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, so members hash and print as users type them."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def profiles(name: str, axes, description: str = "") -> IndexSet:
    """The profile set X = X_1 × ... × X_N with agent i's values ``axes[i]``."""
    return IndexSet(name, axes=tuple(tuple(float(v) for v in np.asarray(a).ravel()) for a in axes), kind="profile",
                    description=description)


def labelled(name: str, labels, kind: str = "", description: str = "") -> IndexSet:
    """A finite index set with the given members (outcome names, state labels, agents, ...)."""
    return IndexSet(name, labels=tuple(labels), kind=kind, description=description)


#: the length of the pieces a long vector is checked in (small temporaries on a program
#: of millions of rows)
CHUNK = 1 << 18


def chunks(n: int):
    """Slices covering range(n) in pieces of ``CHUNK``."""
    return (slice(start, min(start + CHUNK, n)) for start in range(0, n, CHUNK))


def row_largest(A: sp.csr_matrix) -> np.ndarray:
    """The largest magnitude in each row of a CSR matrix without duplicate entries (0
    for an empty row)."""
    counts = np.diff(A.indptr)
    largest = np.zeros(A.shape[0])
    nonempty = counts > 0
    if A.nnz:
        largest[nonempty] = np.maximum.reduceat(np.abs(A.data), A.indptr[:-1][nonempty])
    return largest


def drop_rounding_noise(A: sp.spmatrix, rounding: float = ROUNDING, copy: bool = True) -> sp.csr_matrix:
    """``A`` (CSR) without its zeros and without the entries below ``rounding`` times the
    largest magnitude in their row; without ``copy``, a CSR ``A`` is cleaned in place (a
    matrix just assembled, which nothing else holds)."""
    A = sp.csr_matrix(A, copy=copy)
    A.sum_duplicates()
    A.eliminate_zeros()
    if A.nnz:
        A.data[np.abs(A.data) <= rounding * np.repeat(row_largest(A), np.diff(A.indptr))] = 0.0
        A.eliminate_zeros()
    return A


def _check_index(owner: str, index: tuple, size: int) -> None:
    if index and int(np.prod([s.size for s in index])) != size:
        sizes = " × ".join(str(s.size) for s in index)
        raise ValueError(f"{owner}: its index sets have {sizes} members, it has {size} entries")


@dataclass(frozen=True)
class VariableBlock:
    """A block of columns. ``index`` gives, for each axis of ``shape``, its index set in
    economic terms (empty when the block has none); ``symbol`` is the paper's name
    (``m``, ``lam``, ``sigma``), which the Pyomo model uses."""

    name: str
    start: int
    shape: tuple[int, ...]
    description: str = ""
    index: tuple[IndexSet, ...] = ()
    symbol: str = ""

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def slice(self) -> slice:
        return slice(self.start, self.start + self.size)


@dataclass(frozen=True)
class ConstraintFamily:
    """A contiguous range of rows; ``index`` gives their index sets in economic terms
    (rows in C order over the product of the sets; empty when the family has none)."""

    name: str
    start: int
    count: int
    description: str = ""
    index: tuple[IndexSet, ...] = ()

    @property
    def slice(self) -> slice:
        return slice(self.start, self.start + self.count)


@dataclass
class LinearProgram:
    """min or max c·x + offset  s.t.  row_lower <= A x <= row_upper, col_lower <= x <= col_upper.

    ``metadata`` carries what the program says of itself (its equation, k, ...); the
    solver layer reads one key of it, ``grid_dimension``: the number of agents whose
    grid X(k) = X_1(k) × ... × X_N(k) indexes the rows and columns, which decides how a
    direct factorization fills in (:func:`robustmech.solve.method_for`).

    ``A`` is a CSR matrix, or, for a program built with ``ProgramBuilder(structured=True)``,
    its Kronecker-structured blocks (:class:`robustmech.lower.kron.Blocks`), which are
    applied to vectors (``A @ x``, ``A.T @ y``: enough to certify a solution) and folded
    onto a box of the grid without being assembled; :meth:`assembled` gives the CSR form
    that the solvers and the Pyomo model take.
    """

    name: str
    sense: str  # "min" | "max"
    cost: np.ndarray
    A: sp.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    variables: dict[str, VariableBlock]
    families: dict[str, ConstraintFamily]
    offset: float = 0.0
    build_seconds: float = 0.0
    metadata: dict = field(default_factory=dict)

    @property
    def n_cols(self) -> int:
        cost = self.__dict__["_cost"]
        return cost.size if isinstance(cost, Segments) else cost.shape[0]

    def vector_part(self, name: str, part: slice) -> np.ndarray:
        """One of the vectors (``VECTORS``) on the range ``part`` (a slice of
        :func:`chunks`), without joining the whole vector where it is kept as Segments
        (the certificate reads a program of millions of rows this way)."""
        value = self.__dict__["_" + name]
        return value.part(part.start, part.stop) if isinstance(value, Segments) else value[part]

    def segments(self, name: str, groups) -> list[np.ndarray]:
        """One of the vectors (``VECTORS``) as views on ``groups`` (the families, for a row
        vector, or the variable blocks, in order), without joining it: the views it was
        written from where they are those, else slices of the joined vector."""
        value = self.__dict__["_" + name]
        groups = list(groups)
        if isinstance(value, Segments) and len(value.views) == len(groups) and all(
                v.size == g.slice.stop - g.slice.start for v, g in zip(value.views, groups)):
            return list(value.views)
        return [getattr(self, name)[g.slice] for g in groups]

    @property
    def n_rows(self) -> int:
        return self.A.shape[0]

    @property
    def structured(self) -> bool:
        """Whether ``A`` is kept as structured blocks, not assembled."""
        return isinstance(self.A, Blocks)

    def assembled(self) -> LinearProgram:
        """This program with ``A`` assembled to CSR (itself when it is); the assembly's
        seconds are added to ``build_seconds``, and a program built with
        ``drop_rounding`` drops its rounding noise then (:func:`drop_rounding_noise`)."""
        if not self.structured:
            return self
        import time

        start = time.perf_counter()
        metadata = dict(self.metadata)
        A, dropped = _cleaned(self.A.tocsr(), metadata.pop("drop_rounding", False))
        if dropped:
            metadata["rounding_noise_dropped"] = dropped
        return dataclasses.replace(self, A=A, metadata=metadata,
                                   build_seconds=self.build_seconds + time.perf_counter() - start)

    def block(self, x: np.ndarray, name: str) -> np.ndarray:
        """The part of a column vector belonging to variable block ``name``, shaped."""
        b = self.variables[name]
        return np.asarray(x[b.slice]).reshape(b.shape)

    def rows(self, y: np.ndarray, name: str) -> np.ndarray:
        return np.asarray(y[self.families[name].slice])

    def family_of_row(self, row: int) -> str:
        for f in self.families.values():
            if f.start <= row < f.start + f.count:
                return f.name
        raise IndexError(row)

    def block_of_column(self, col: int) -> str:
        for b in self.variables.values():
            if b.start <= col < b.start + b.size:
                return b.name
        raise IndexError(col)

    def without_families(self, names: set[str]) -> "LinearProgram":
        """The same program with the rows of some families dropped (for diagnosis)."""
        if self.structured:
            return self.assembled().without_families(names)
        keep = np.ones(self.n_rows, dtype=bool)
        for n in names:
            keep[self.families[n].slice] = False
        fams, start = {}, 0
        for f in self.families.values():
            if f.name not in names:
                fams[f.name] = ConstraintFamily(f.name, start, f.count, f.description, f.index)
                start += f.count
        return LinearProgram(
            self.name, self.sense, self.cost, self.A[keep], self.row_lower[keep], self.row_upper[keep],
            self.col_lower, self.col_upper, self.variables, fams, self.offset,
        )

    def summary(self) -> str:
        nonzeros = "structured" if self.structured else f"{self.A.nnz} nonzeros"
        lines = [f"{self.name}: {self.sense} over {self.n_cols} variables, {self.n_rows} rows, {nonzeros}"]
        for b in self.variables.values():
            lines.append(f"  variable {b.name}{list(b.shape)}: {b.description}")
        for f in self.families.values():
            lines.append(f"  rows {f.name} ({f.count}): {f.description}")
        return "\n".join(lines)

    # -- Pyomo ---------------------------------------------------------------

    def to_pyomo(self, inverse=None):
        """This program as a ``pyomo.environ.ConcreteModel`` built in bulk from the arrays,
        with index sets, variables and constraints named as in the papers
        (:func:`robustmech.pyomo.model_from_program`); ``inverse`` is kept for the read-back."""
        from ..pyomo import model_from_program

        return model_from_program(self.assembled(), inverse)

    def export(self, path: str) -> None:
        """Write the program's Pyomo model as ``.lp`` or ``.mps`` with Pyomo's writers and
        symbolic labels (``m(0_25_0_5__paid_by(1)_)``, ``c_u_strategic(...)``)."""
        from ..errors import ParameterError

        if not (path.endswith(".lp") or path.endswith(".mps")):
            raise ParameterError(f"export to a file ending in .lp or .mps, not {path!r}")
        self.to_pyomo().write(path, io_options={"symbolic_solver_labels": True})  # format from the suffix


def _cleaned(A: sp.csr_matrix, drop_rounding: bool) -> tuple[sp.csr_matrix, int]:
    """An assembled matrix without its zeros and, with ``drop_rounding``, without its
    rounding noise (:func:`drop_rounding_noise`); and how many entries that noise was."""
    A.eliminate_zeros()
    if not drop_rounding:
        return A, 0
    before = A.nnz
    A = drop_rounding_noise(A, copy=False)  # the builder's own assembly
    return A, before - A.nnz


def _bounds_view(value, size: int, shape: tuple[int, ...]) -> np.ndarray:
    """Bounds as a read-only view: a scalar or a flat array of ``size`` entries, or an array
    that broadcasts to the block's ``shape`` (P's bounds per outcome, repeated over X)."""
    value = np.array(value, dtype=float)  # the builder's own copy: a caller's later change is not the program's
    value.flags.writeable = False
    if value.ndim == 1 and value.size == size:
        return value
    if value.ndim == 0:
        return np.broadcast_to(value, (size,))
    return np.broadcast_to(value, shape)


def joined(views: list[np.ndarray] | tuple[np.ndarray, ...], dtype: Any = float) -> np.ndarray:
    """The views written one after the other into one new vector of ``dtype`` (no copy in
    between: a broadcast view is written without being expanded first)."""
    out = np.empty(sum(v.size for v in views), dtype=dtype)
    start = 0
    for v in views:
        out[start:start + v.size].reshape(v.shape)[...] = v
        start += v.size
    return out


class Segments:
    """A vector of a structured program kept as the read-only views it is written from,
    one per variable block or constraint family (a bound per outcome repeated over X(k)
    is a broadcast view of a few numbers): joined into one array only when it is read
    (:class:`LinearProgram`), so that folding the program onto a box of its grid
    (:mod:`robustmech.programs.truncation`) never writes the whole grid's vectors."""

    __slots__ = ("views", "size")

    def __init__(self, views):
        self.views = tuple(np.asarray(v) for v in views)
        self.size = sum(v.size for v in self.views)

    def joined(self) -> np.ndarray:
        return joined(self.views)

    def part(self, start: int, stop: int) -> np.ndarray:
        """Entries ``start:stop`` of the vector, written out for that range only."""
        pieces, offset = [], 0
        for v in self.views:
            a, b = max(start - offset, 0), min(stop - offset, v.size)
            if a < b:
                pieces.append(_flat_range(v, a, b))
            offset += v.size
            if offset >= stop:
                break
        return np.concatenate(pieces) if len(pieces) != 1 else np.array(pieces[0], dtype=float)


def _flat_range(view: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Entries ``start:stop`` of ``view`` in C order, writing out no more than the
    leading rows they lie in (a broadcast view of the whole grid is never written)."""
    if view.ndim <= 1:
        return view.reshape(-1)[start:stop]
    lead = int(np.prod(view.shape[1:]))
    first, last = start // lead, -(-stop // lead)
    if lead <= stop - start or last - first == 1 and lead <= CHUNK:
        return view[first:last].reshape(-1)[start - first * lead:stop - first * lead]
    return np.concatenate([_flat_range(view[i], max(start - i * lead, 0), min(stop - i * lead, lead))
                           for i in range(first, last)])


#: the vectors of a LinearProgram that a structured program may keep as Segments
VECTORS = ("cost", "row_lower", "row_upper", "col_lower", "col_upper")


def _vector_property(name: str) -> property:
    key = "_" + name

    def get(self):
        value = self.__dict__[key]
        if isinstance(value, Segments):  # joined once, when first read
            value = self.__dict__[key] = value.joined()
        return value

    def put(self, value):
        self.__dict__[key] = value

    return property(get, put, doc=f"The program's {name.replace('_', ' ')} vector (joined when first read).")


for _name in VECTORS:  # after the dataclass made its __init__, which assigns through them
    setattr(LinearProgram, _name, _vector_property(_name))


class ProgramBuilder:
    """Assemble a :class:`LinearProgram` block by block.

    ``add_variables`` reserves columns; ``add_rows`` takes, for one family, a mapping
    from variable block to a coefficient matrix (rows × block size: sparse, or a
    Kronecker-structured block of :mod:`robustmech.lower.kron`) and the row bounds.
    Assembly is one ``scipy.sparse.bmat``; with ``structured`` the blocks are kept as
    they are (:attr:`LinearProgram.structured`) and assembled only by
    :meth:`LinearProgram.assembled`. With ``drop_rounding`` (the
    programs whose coefficients are the environment's payoffs times grid operators:
    the bounding and auction programs), entries below :data:`ROUNDING` of their row's
    largest are dropped (:func:`drop_rounding_noise`; the count is in the metadata as
    ``rounding_noise_dropped``); programs built from a solver's output (a structure,
    a mechanism) keep every entry.
    """

    def __init__(self, name: str, sense: str, drop_rounding: bool = False, structured: bool = False):
        if sense not in ("min", "max"):
            raise ValueError(sense)
        self.name, self.sense, self.drop_rounding, self.structured = name, sense, drop_rounding, structured
        self._variables: dict[str, VariableBlock] = {}
        self._col_lower: list[np.ndarray] = []
        self._col_upper: list[np.ndarray] = []
        self._cost: dict[str, np.ndarray] = {}
        self._families: list[tuple[str, dict, np.ndarray, np.ndarray, str, tuple]] = []
        self._n_cols = 0
        self.offset = 0.0

    def add_variables(self, name: str, shape=None, lower=0.0, upper=np.inf, description: str = "",
                      index: tuple[IndexSet, ...] = (), symbol: str = "") -> VariableBlock:
        """Reserve a block of columns; its shape is given, or is that of its ``index`` sets."""
        index = tuple(index)
        if shape is None:
            shape = tuple(s.size for s in index)
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        size = int(np.prod(shape))
        _check_index(f"variable block {name}", index, size)
        block = VariableBlock(name, self._n_cols, shape, description, index, symbol or name)
        self._variables[name] = block
        # read-only views, copied once where the program is built
        self._col_lower.append(_bounds_view(lower, size, shape))
        self._col_upper.append(_bounds_view(upper, size, shape))
        self._n_cols += size
        return block

    def set_cost(self, name: str, cost) -> None:
        block = self._variables[name]
        own = np.array(cost, dtype=float)  # a copy, as the bounds (_bounds_view)
        self._cost[name] = np.broadcast_to(own.reshape(-1) if own.ndim else own, (block.size,))

    def add_rows(self, family: str, coefficients: dict, lower=-np.inf, upper=np.inf, description: str = "",
                 index: tuple[IndexSet, ...] = ()) -> None:
        n_rows = None
        for name, mat in coefficients.items():
            block = self._variables[name]
            if mat.shape[1] != block.size:
                raise ValueError(f"{family}: block {name} has {block.size} columns, matrix has {mat.shape[1]}")
            if n_rows is None:
                n_rows = mat.shape[0]
            elif mat.shape[0] != n_rows:
                raise ValueError(f"{family}: inconsistent row counts")
        if not n_rows:
            return
        shape = tuple(s.size for s in index) or (n_rows,)
        lo, hi = _bounds_view(lower, n_rows, shape), _bounds_view(upper, n_rows, shape)
        _check_index(f"constraint family {family}", tuple(index), n_rows)
        self._families.append((family, coefficients, lo, hi, description, tuple(index)))

    def build(self, build_seconds: float = 0.0, metadata: dict | None = None) -> LinearProgram:
        """Assemble the program; ``build_seconds`` is the caller's time spent on the
        blocks, to which the assembly time is added."""
        import time

        assembly_start = time.perf_counter()
        names = list(self._variables)
        blocks, lowers, uppers, families, start = [], [], [], {}, 0
        for family, coefs, lo, hi, desc, index in self._families:
            n_rows = lo.size
            row = []
            for name in names:
                mat = coefs.get(name)
                if self.structured:
                    row.append(mat)
                else:
                    row.append(tocsr(mat) if mat is not None else sp.csr_matrix((n_rows, self._variables[name].size)))
            blocks.append(row)
            lowers.append(lo)
            uppers.append(hi)
            if family in families:
                raise ValueError(f"duplicate constraint family {family}")
            families[family] = ConstraintFamily(family, start, n_rows, desc, index)
            start += n_rows
        dropped = 0
        metadata = dict(metadata or {})
        A: Any
        if self.structured and blocks:
            A = Blocks(blocks, [lo.size for lo in lowers], [v.size for v in self._variables.values()])
            if self.drop_rounding:
                metadata["drop_rounding"] = True  # done where it is assembled
        elif blocks:
            A = sp.bmat(blocks, format="csr")
        else:
            A = sp.csr_matrix((0, self._n_cols))
        if not isinstance(A, Blocks):
            A, dropped = _cleaned(A, self.drop_rounding)
        vectors: dict[str, Any]
        if self.structured:  # kept as their views: a box of the grid reads only its part
            zero = np.zeros(1)
            vectors = {"cost": Segments(self._cost.get(name, np.broadcast_to(zero, (v.size,)))
                                        for name, v in self._variables.items()),
                       "row_lower": Segments(lowers), "row_upper": Segments(uppers),
                       "col_lower": Segments(self._col_lower), "col_upper": Segments(self._col_upper)}
        else:
            cost = np.zeros(self._n_cols)
            for name, c in self._cost.items():
                cost[self._variables[name].slice] = c
            vectors = {"cost": cost, "row_lower": joined(lowers), "row_upper": joined(uppers),
                       "col_lower": joined(self._col_lower), "col_upper": joined(self._col_upper)}
        return LinearProgram(
            name=self.name,
            sense=self.sense,
            A=A,
            **vectors,
            variables=dict(self._variables),
            families=families,
            offset=self.offset,
            build_seconds=build_seconds + (time.perf_counter() - assembly_start),
            metadata={**metadata, **({"rounding_noise_dropped": dropped} if dropped else {})},
        )
