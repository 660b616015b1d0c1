"""Where ``on_select`` callbacks print: under the cell that registered them.

A callback runs while the kernel handles a comm message from the browser, and output made
then belongs to no cell: JupyterLab drops it. So the first ``on_select`` in a notebook shows
an (empty) ipywidgets ``Output`` below its cell, and every callback runs inside it: its
prints, displays and tracebacks appear there. Outside a kernel (a script, a test) callbacks
run as they are and print to the terminal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["CallbackOutput"]


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class CallbackOutput:
    """The output area of a widget's callbacks (see the module docstring)."""

    def __init__(self) -> None:
        self.output: Any = None

    def show_here(self) -> None:
        """Show the output area below the running cell (once; nothing outside a kernel)."""
        if self.output is not None or not _in_kernel():
            return
        import ipywidgets
        from IPython.display import display

        self.output = ipywidgets.Output()
        display(self.output)

    @contextlib.contextmanager
    def capture(self) -> Iterator[None]:
        """Route what runs inside to the output area (when there is one)."""
        if self.output is None:
            yield
            return
        with self.output:
            yield

    def close(self) -> None:
        """Close the output area's widget."""
        if self.output is not None:
            self.output.close()
            self.output = None
