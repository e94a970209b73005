"""The settings reference (``docs/pages/settings.md``): its table is made from
``profiles/default.yaml`` (each setting's comment and default) and the ``drapto`` command's
option groups, so the page, the options and the settings cannot drift apart.

``python -m drapto.run.reference docs/pages/settings.md`` writes the table into the page;
``--check`` says whether it is current (the tests run it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from drapto.run.cli import ADVANCED, COMMON
from drapto.settings import documented

BEGIN = "<!-- the settings table, made by python -m drapto.run.reference: do not edit it here -->"
END = "<!-- end of the settings table -->"


def _value(default: object) -> str:
    if isinstance(default, str):
        return f"`{default}`"
    text = yaml.safe_dump(default, default_flow_style=True, width=1000).strip()
    return f"`{text.removesuffix('...').strip()}`"


def table() -> str:
    """The settings in the command's groups: the common ones first, then each advanced
    group, with the option, the default and the help from profiles/default.yaml."""
    settings = documented()
    placed = {k for keys in ADVANCED.values() for k in keys} | set(COMMON)
    groups = [("The settings people change first", COMMON),
              *((f"Advanced: {title}", keys) for title, keys in ADVANCED.items()),
              ("Other", tuple(k for k in settings if k not in placed))]
    out: list[str] = []
    for title, keys in groups:
        if not keys:
            continue
        out += [f"### {title}", "", "| setting | option | default | meaning |",
                "|---|---|---|---|"]
        for key in keys:
            text, default = settings[key]
            out.append(f"| `{key}` | `--{key.replace('_', '-')}` | {_value(default)} | "
                       f"{text.replace('|', '/')} |")
        out.append("")
    return "\n".join(out).rstrip("\n")


def render(page: str) -> str:
    """*page* with the text between BEGIN and END replaced by the current table."""
    head, sep, rest = page.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"the page lacks the markers {BEGIN!r} ... {END!r}")
    return f"{head}{BEGIN}\n\n{table()}\n\n{END}{tail}"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"]
    if len(paths) != 1:
        print("usage: python -m drapto.run.reference [--check] docs/pages/settings.md",
              file=sys.stderr)
        return 2
    page = paths[0].read_text(encoding="utf-8")
    new = render(page)
    if check:
        if new != page:
            print(f"{paths[0]}: the settings table is not current: "
                  "python -m drapto.run.reference writes it", file=sys.stderr)
            return 1
        return 0
    paths[0].write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
