"""The modeling language: grammar (``grammar.lark``), parser and syntax tree.

``parse(text, filename)`` returns a :class:`~robustmech.dsl.ast.ModelAST` whose nodes
all carry file:line:col; :func:`robustmech.model.elaborate.elaborate` gives it meaning.
The language reference is ``docs/language.md``.
"""

from .parser import parse

__all__ = ["parse"]
