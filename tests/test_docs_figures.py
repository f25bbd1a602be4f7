"""What the README and docs/*.md state is kept current by checks, not by hand.

- Benchmark figures appear only in generated blocks, rendered from
  ``bench/report/figures.json`` (what ``make bench`` writes) by
  ``bench.figures_block``; a block that differs fails here, and so does a
  time or ratio typed outside one on the pages that show figures.
- Each flag table (``<!-- flags: lambdastream CMD -->`` before it) lists
  exactly the flags ``lambdastream CMD --help`` lists, with their defaults.
- Each parameter table (``<!-- parameters: TEMPLATE -->``) lists the SAM
  template's parameters with their defaults.
- Every relative link (and its ``#anchor``) points at something that exists.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
import yaml
from support import REPO

from bench import figures_block
from lambdastream.cli import build_parser

PAGES = figures_block.pages()
# Pages that show benchmark figures: outside generated blocks, no time or ratio.
FIGURE_PAGES = [REPO / "README.md", REPO / "docs" / "performance.md", REPO / "docs" / "deploy.md"]
MEASURED = re.compile(
    r"(?<![\w.])~?\d[\d,]*(?:\.\d+)?(?:-\d[\d,]*(?:\.\d+)?)?\s?(?:ms|us|µs|x|MiB/s|chunks/s|%)(?!\w)"
)
TEST_COUNT = re.compile(r"\b\d[\d,]* (?:passed|failed|xfailed|skipped)\b")


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def without_fences(text: str) -> str:
    """``text`` with its fenced blocks blanked (line numbers kept)."""
    return re.sub(r"^```.*?^```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S | re.M)


def without_code(text: str) -> str:
    """``text`` with fenced blocks and inline code blanked (line numbers kept)."""
    return re.sub(r"`[^`\n]*`", "``", without_fences(text))


def without_blocks(text: str) -> str:
    """``text`` without its generated figures blocks."""
    return figures_block.BLOCK.sub(lambda m: "\n" * m.group(0).count("\n"), text)


# -- the figures -----------------------------------------------------------------


def test_each_figures_block_is_what_figures_json_renders():
    stale = figures_block.stale(figures_block.load())
    assert not stale, (
        f"{', '.join(rel(p) for p in stale)}: the figures differ from"
        f" bench/report/figures.json (make bench rewrites it): run {figures_block.WRITE}"
    )


def test_the_readme_and_the_performance_page_show_generated_figures():
    readme = figures_block.kinds((REPO / "README.md").read_text(encoding="utf-8"))
    performance = figures_block.kinds((REPO / "docs" / "performance.md").read_text("utf-8"))
    assert readme == ["summary"]
    assert {"summary", "missed", "all"} <= set(performance)


@pytest.mark.parametrize("kind", ["summary", "all", "missed", "group=cold start as deployed"])
def test_every_block_renders_from_the_figures_and_from_none(kind):
    data = figures_block.load()
    for figures in (data, {"header": [], "runs": [], "figures": []}):
        text = figures_block.render(kind, figures, REPO / "docs" / "performance.md")
        assert text.startswith(figures_block.GENERATED) and text.endswith("\n")
        assert "](../bench/report/" in text or kind == "missed"
    with pytest.raises(ValueError):
        figures_block.render("everything", data, REPO / "README.md")


def test_a_stale_block_is_found_and_rewritten(tmp_path):
    (tmp_path / "docs").mkdir()
    page = tmp_path / "README.md"
    page.write_text("intro\n<!-- figures:begin summary -->\n| 1.5x |\n<!-- figures:end -->\nend\n")
    data = figures_block.load()
    assert figures_block.stale(data, tmp_path) == [page]
    page.write_text(figures_block.update(page.read_text(), data, page))
    assert figures_block.stale(data, tmp_path) == []
    assert page.read_text().startswith("intro\n<!-- figures:begin summary -->\n<!-- generated")
    assert page.read_text().endswith("<!-- figures:end -->\nend\n")


@pytest.mark.parametrize("page", FIGURE_PAGES, ids=rel)
def test_no_time_or_ratio_is_typed_by_hand_outside_the_blocks(page):
    text = without_blocks(page.read_text(encoding="utf-8"))
    found = [
        f"{rel(page)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}"
        for m in MEASURED.finditer(text)
    ]
    assert not found, (
        "figures typed by hand (they go stale): show them in a figures block"
        f" ({figures_block.WRITE}) or say it without the number:\n" + "\n".join(found)
    )


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_no_page_states_a_test_count(page):
    found = TEST_COUNT.findall(page.read_text(encoding="utf-8"))
    assert not found, f"{rel(page)}: test counts go stale with every test added: {found}"


# -- the flag and parameter tables ---------------------------------------------------


def tables(marker: str) -> list[tuple[Path, str, list[dict[str, str]]]]:
    """Each table after ``<!-- MARKER: WHAT -->``: its page, WHAT, its rows as header -> cell."""
    found = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            m = re.fullmatch(rf"<!-- {marker}: (.+) -->", line)
            if not m:
                continue
            rows = []
            for row in lines[i + 1 :]:
                if not row.startswith("|"):
                    break
                rows.append([c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]])
            header, _, *body = rows
            found.append((page, m.group(1), [dict(zip(header, r, strict=True)) for r in body]))
    return found


def subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser([command])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


def shown_default(value: object) -> str | None:
    """A default as the table writes it; None where it depends on the machine or is empty."""
    if isinstance(value, bool) or value in (None, "", []):
        return None
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


FLAG_TABLES = tables("flags")
# Defaults read from the environment when the parser is built: the table names the variable.
FROM_ENVIRONMENT = {"--region"}


def test_every_command_with_flags_has_its_table():
    documented = {what for _, what, _ in FLAG_TABLES}
    assert documented == {
        "lambdastream dev",
        "lambdastream invoke",
        "lambdastream bedrock-local",
        "lambdastream build",
    }


@pytest.mark.parametrize(("page", "what", "rows"), FLAG_TABLES, ids=[w for _, w, _ in FLAG_TABLES])
def test_a_flag_table_lists_what_help_lists_with_its_defaults(page, what, rows):
    parser = subparser(what.removeprefix("lambdastream "))
    options = {
        max(action.option_strings, key=len): action
        for action in parser._actions
        if action.option_strings and action.dest != "help"
    }
    first = next(iter(rows[0]))
    by_flag = {}
    for row in rows:
        flags = re.findall(r"`(--[\w-]+)", row[first])
        if flags:
            by_flag[flags[0]] = row
    assert sorted(by_flag) == sorted(options), (
        f"{rel(page)}: the {what} table's flags differ from --help's:"
        f" missing {sorted(set(options) - set(by_flag))}, not in --help"
        f" {sorted(set(by_flag) - set(options))}"
    )
    if "default" not in rows[0]:
        return
    for flag, action in options.items():
        default = shown_default(action.default)
        cell = by_flag[flag]["default"]
        if default is not None and flag not in FROM_ENVIRONMENT:
            assert re.search(rf"(?<![\w.]){re.escape(default)}(?![\w.])", cell), (
                f"{rel(page)}: {what} {flag} defaults to {default}, the table says {cell!r}"
            )


class _TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, ...) read as nothing."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


PARAMETER_TABLES = tables("parameters")


@pytest.mark.parametrize(
    ("page", "template", "rows"), PARAMETER_TABLES, ids=[w for _, w, _ in PARAMETER_TABLES]
)
def test_a_parameter_table_lists_the_templates_parameters_with_their_defaults(page, template, rows):
    parameters = yaml.load((REPO / template).read_text(), Loader=_TemplateLoader)["Parameters"]
    table = {row["parameter"].strip("`"): row["default"].strip("`") for row in rows}
    expected = {name: str(p.get("Default", "")) for name, p in parameters.items()}
    assert table == expected, f"{rel(page)}: the table differs from {template}"


# -- the links -------------------------------------------------------------------


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = re.sub(r"[`*_]{1,2}(?=\S)|(?<=\S)[`*_]{1,2}", "", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def test_a_slug_is_githubs():
    assert slug("Try it: `make demo`") == "try-it-make-demo"
    assert slug("Any runtime: `--bootstrap`") == "any-runtime---bootstrap"
    assert slug("Events, usage, errors") == "events-usage-errors"


def headings_of(page: Path) -> set[str]:
    """Anchors from the page's real headings (inline code kept)."""
    seen: dict[str, int] = {}
    out = set()
    for line in without_fences(page.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"#{1,6} (.+)", line)
        if m:
            base = slug(m.group(1))
            out.add(base if base not in seen else f"{base}-{seen[base]}")
            seen[base] = seen.get(base, 0) + 1
    return out


def links(page: Path) -> list[tuple[int, str]]:
    """Each relative link of a page (not in code), with its line."""
    text = without_code(page.read_text(encoding="utf-8"))
    out = []
    for m in re.finditer(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text):
        target = m.group(1)
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        out.append((text.count("\n", 0, m.start()) + 1, target))
    return out


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_relative_link_points_at_a_file_and_anchor_that_exist(page):
    broken = []
    for line, target in links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{rel(page)}:{line}: {target}: no {path}")
        elif anchor and file.suffix == ".md" and anchor not in headings_of(file):
            broken.append(f"{rel(page)}:{line}: {target}: no heading #{anchor} in {rel(file)}")
    assert not broken, "\n".join(broken)


def test_the_readme_links_every_page_under_docs():
    linked = {(REPO / path.partition("#")[0]).resolve() for _, path in links(REPO / "README.md")}
    pages = set((REPO / "docs").glob("*.md"))
    assert not pages - linked, f"docs pages the README does not link: {sorted(pages - linked)}"


# -- the README as a front door ---------------------------------------------------


def test_the_readme_lists_its_sections_and_deploys_within_its_first_screens():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    sections = [
        line[3:] for line in without_fences("\n".join(lines)).splitlines() if line[:3] == "## "
    ]
    contents = "\n".join(lines[lines.index("## Contents") : lines.index("## Contents") + 20])
    unlisted = [s for s in sections[1:] if f"(#{slug(s)})" not in contents]
    assert not unlisted, f"README sections missing from its Contents: {unlisted}"
    assert lines.index("## Deploy to AWS") < 150, (
        "deploying should be within the README's first screens"
    )
