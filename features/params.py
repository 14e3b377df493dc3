"""scikit-learn's estimator conventions without importing scikit-learn.

Importing ``sklearn.base`` costs ~1 s and ~180 MB of RSS on this machine — more than the whole
serving process may use. The encoders therefore follow the conventions by duck typing:
``__init__`` stores its keyword arguments only, ``fit`` returns ``self``, learned attributes end
in ``_``. ``get_params``/``set_params`` make ``sklearn.base.clone`` and ``Pipeline`` work
(tests/features/test_encoders.py checks that with the real scikit-learn).
"""

from __future__ import annotations

import inspect
from typing import Any


class ParamsMixin:
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [
            name for name, p in signature.parameters.items() if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> ParamsMixin:
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {sorted(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_fitted(self, attribute: str) -> None:
        if not hasattr(self, attribute):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call fit() first")
