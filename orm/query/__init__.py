"""The query compiler: immutable query state in, one SQLAlchemy statement out."""

from orm.query.compiler import Compiled, compile_select
from orm.query.resolver import Resolver
from orm.query.state import QueryState

__all__ = ["Compiled", "QueryState", "Resolver", "compile_select"]
