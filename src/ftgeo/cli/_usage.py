"""One-line usage errors for every parser of the ``ftgeo`` command (the verbs' and the generated ones)."""
from __future__ import annotations

import argparse
import difflib
import re

from ftgeo.errors import EXIT_BAD_INPUT


def one_line_usage_error(p: argparse.ArgumentParser):
    """``p.error`` replacement: a usage error in one line (with a did-you-mean for a mistyped choice)."""
    def error(message: str):
        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m:
            choices = re.findall(r"'([^']*)'", m.group(2)) or [c.strip() for c in m.group(2).split(",")]
            close = difflib.get_close_matches(m.group(1), choices, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]!r}?"
        p.exit(EXIT_BAD_INPUT, f"{p.prog}: error: {message} (`{p.prog} --help` lists the options)\n")
    return error
