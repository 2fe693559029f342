"""The repository documents itself: README.md and docs/*.md link only to files a clone has
(or to http(s) pages), and every Mermaid diagram is fenced so that GitHub draws it.

A link that leaves the repository (``../shared/DESIGN.md``), names an absolute path, or
points at a file or heading that does not exist is a dead end for a user reading the docs
on GitHub or in their clone. A diagram fenced as anything but ```mermaid shows as source text.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]


def documentation_files(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


# -- reading Markdown -------------------------------------------------------------------------------

# Every diagram type Mermaid knows (mermaid.js.org, "Diagram Syntax"): a ```mermaid block starts with one.
MERMAID_TYPES = (
    "sequenceDiagram", "flowchart", "graph", "classDiagram", "classDiagram-v2", "stateDiagram",
    "stateDiagram-v2", "erDiagram", "journey", "gantt", "pie", "quadrantChart", "requirementDiagram",
    "gitGraph", "C4Context", "C4Container", "C4Component", "C4Dynamic", "C4Deployment", "mindmap",
    "timeline", "zenuml", "sankey-beta", "xychart-beta", "block-beta", "packet-beta", "kanban",
    "architecture-beta", "radar-beta",
)
# What gives a block away as a diagram even when its fence does not say mermaid.
_LOOKS_LIKE_DIAGRAM = re.compile(
    r"^(sequenceDiagram|classDiagram(-v2)?|stateDiagram(-v2)?|erDiagram|gitGraph|requirementDiagram|"
    r"(flowchart|graph)\s+(TD|TB|BT|RL|LR)|C4(Context|Container|Component|Dynamic|Deployment))\b"
)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
_AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>]*)>")
_HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)
_HTML_ANCHOR = re.compile(r"""<a\s[^>]*\b(?:name|id)\s*=\s*["']([^"']+)["']""", re.I)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


class Markdown:
    """The parts of one Markdown file this test needs: its links (outside code), its fenced blocks
    and the anchors its headings get on GitHub."""

    def __init__(self, text: str):
        self.links: list[tuple[int, str]] = []  # (line number, destination)
        self.blocks: list[tuple[int, str, str, list[str]]] = []  # (line, fence, info string, lines)
        self.unclosed_fence: int | None = None
        self.anchors: set[str] = set()
        seen_slugs: dict[str, int] = {}
        fence: tuple[int, str, str, list[str]] | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if fence is not None:
                closing = _FENCE.match(line)
                if (closing and closing.group(1)[0] == fence[1][0] and len(closing.group(1)) >= len(fence[1])
                        and not closing.group(2)):
                    self.blocks.append(fence)
                    fence = None
                else:
                    fence[3].append(line)
                continue
            opening = _FENCE.match(line)
            if opening:
                fence = (number, opening.group(1), opening.group(2), [])
                continue
            heading = _HEADING.match(line)
            if heading:
                slug = github_slug(heading.group(2))
                count = seen_slugs.get(slug, 0)
                seen_slugs[slug] = count + 1
                self.anchors.add(slug if count == 0 else f"{slug}-{count}")
            self.anchors.update(_HTML_ANCHOR.findall(line))
            prose = _INLINE_CODE.sub("", line)
            definition = _REFERENCE_DEFINITION.match(prose)
            if definition:
                self.links.append((number, definition.group(1).strip("<>")))
                continue
            for pattern in (_INLINE_LINK, _AUTOLINK, _HTML_LINK):
                self.links.extend((number, match.strip("<>")) for match in pattern.findall(prose))
        if fence is not None:
            self.unclosed_fence = fence[0]


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"<[^>]+>", "", heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading counts by its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def _first_statement(lines: list[str]) -> str:
    """The first line of a diagram that is not blank, a %% comment or YAML front matter."""
    in_front_matter = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        if index == 0 and stripped == "---":
            in_front_matter = True
            continue
        if in_front_matter:
            in_front_matter = stripped != "---"
            continue
        if stripped and not stripped.startswith("%%"):
            return stripped
    return ""


# -- the checks -------------------------------------------------------------------------------------


def link_problems(path: Path, root: Path) -> list[str]:
    """Every link in ``path`` that a reader of a clone could not follow."""
    document = Markdown(path.read_text(encoding="utf-8"))
    name = path.relative_to(root)
    problems = []
    for line, destination in document.links:
        where = f"{name}:{line}: {destination}"
        if _SCHEME.match(destination):
            if not destination.lower().startswith(("http://", "https://")):
                problems.append(f"{where} is neither a file of the repository nor an http(s) page")
            continue
        target, _, fragment = destination.partition("#")
        target = unquote(target.partition("?")[0])
        if not target:  # "#heading" in this file
            if fragment and unquote(fragment).lower() not in document.anchors:
                problems.append(f"{where}: no such heading in {name}")
            continue
        if target.startswith(("/", "\\", "~")):
            problems.append(f"{where} is an absolute path: a clone elsewhere does not have it")
            continue
        resolved = (path.parent / target).resolve()
        if not resolved.is_relative_to(root.resolve()):
            problems.append(f"{where} leads outside the repository")
        elif not resolved.exists():
            problems.append(f"{where} does not exist")
        elif _git_ignored(resolved, root):
            problems.append(f"{where} is ignored by git: a clone does not have it")
        elif fragment and resolved.suffix == ".md":
            anchors = Markdown(resolved.read_text(encoding="utf-8")).anchors
            if unquote(fragment).lower() not in anchors:
                problems.append(f"{where}: no such heading in {resolved.relative_to(root.resolve())}")
    return problems


def _git_ignored(path: Path, root: Path) -> bool:
    if not (root / ".git").exists() or shutil.which("git") is None:
        return False
    result = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", str(path)], capture_output=True)
    return result.returncode == 0


def mermaid_problems(path: Path, root: Path) -> list[str]:
    """Diagrams GitHub would not draw: a ```mermaid block that is no known diagram type, a
    diagram fenced as something else, and a fence left open (the rest of the file becomes code)."""
    document = Markdown(path.read_text(encoding="utf-8"))
    name = path.relative_to(root)
    problems = []
    for line, fence, info, lines in document.blocks:
        first = _first_statement(lines)
        if info.lower() == "mermaid":
            if fence[0] != "`":
                problems.append(f"{name}:{line}: fence the diagram with ```mermaid, not {fence}mermaid")
            if not any(first == kind or first.startswith(f"{kind} ") for kind in MERMAID_TYPES):
                problems.append(f"{name}:{line}: Mermaid block does not start with a diagram type (got {first[:40]!r})")
        elif _LOOKS_LIKE_DIAGRAM.match(first):
            problems.append(f"{name}:{line}: a Mermaid diagram fenced as {fence}{info} (GitHub shows its source)")
    if document.unclosed_fence is not None:
        problems.append(f"{name}:{document.unclosed_fence}: code fence never closed")
    return problems


# -- the repository's own documentation ----------------------------------------------------------------


def test_readme_and_docs_link_only_to_files_of_the_repository_or_web_pages():
    files = documentation_files()
    assert all(f.is_file() for f in files), [str(f) for f in files if not f.is_file()]
    problems = [problem for f in files for problem in link_problems(f, ROOT)]
    assert problems == []


def test_every_mermaid_diagram_is_fenced_as_mermaid_and_names_its_type():
    problems = [problem for f in documentation_files() for problem in mermaid_problems(f, ROOT)]
    assert problems == []


def test_the_documentation_a_user_is_pointed_to_exists_and_draws_the_flows():
    readme = Markdown((ROOT / "README.md").read_text(encoding="utf-8"))
    linked = {destination.partition("#")[0] for _, destination in readme.links}
    for page in ("docs/architecture.md", "docs/configuration.md", "docs/emulator-fidelity.md"):
        assert page in linked, f"README.md does not link {page}"
    architecture = Markdown((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"))
    sequences = [lines for _, _, info, lines in architecture.blocks
                 if info == "mermaid" and _first_statement(lines) == "sequenceDiagram"]
    assert len(sequences) >= 3  # sign-in, page -> API -> on-behalf-of, sign-out


# -- the checks themselves catch what they are for --------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## Set it up\n\ntext\n", encoding="utf-8")
    (tmp_path / "app.py").write_text("", encoding="utf-8")
    return tmp_path


def _write(repo: Path, text: str) -> Path:
    page = repo / "README.md"
    page.write_text(text, encoding="utf-8")
    return page


@pytest.mark.parametrize("text", [
    "See [the design](../shared/DESIGN.md).",
    "See [the design](docs/missing.md).",
    "See [setup](docs/guide.md#no-such-heading).",
    "See [here](#nowhere).",
    "See [the design](/work/shared/DESIGN.md).",
    "See [a file](file:///etc/passwd).",
    "See <ftp://example.com/x>.",
    '<img src="docs/missing.png">',
    "[design]: ../shared/DESIGN.md\n\nSee [the design][design].",
    "![diagram](../outside.png)",
])
def test_a_link_a_clone_cannot_follow_is_reported(repo: Path, text: str):
    assert len(link_problems(_write(repo, text), repo)) == 1


@pytest.mark.parametrize("text", [
    "See [Microsoft Learn](https://learn.microsoft.com/entra/identity-platform/access-tokens).",
    "See [the guide](docs/guide.md), [setup](docs/guide.md#set-it-up) and [the app](app.py).",
    "See [below](#usage).\n\n## Usage\n",
    "Not links: `[x](../shared/DESIGN.md)` and\n\n```\n[y](../nowhere.md)\n```\n",
    "See <https://example.com/>.",
])
def test_links_inside_the_repository_or_to_web_pages_pass(repo: Path, text: str):
    assert link_problems(_write(repo, text), repo) == []


@pytest.mark.parametrize("text", [
    "```\nsequenceDiagram\n    A->>B: hi\n```\n",
    "```text\nflowchart LR\n    A --> B\n```\n",
    "~~~mermaid\nsequenceDiagram\n    A->>B: hi\n~~~\n",
    "```mermaid\nA->>B: hi\n```\n",
    "```mermaid\nsequenceDiagram\n    A->>B: hi\n",
])
def test_a_diagram_github_would_not_draw_is_reported(repo: Path, text: str):
    assert len(mermaid_problems(_write(repo, text), repo)) == 1


def test_well_fenced_diagrams_pass(repo: Path):
    text = ("```mermaid\n%% a comment\nsequenceDiagram\n    A->>B: hi\n```\n\n"
            "```mermaid\n---\ntitle: parts\n---\nflowchart LR\n    A --> B\n```\n\n"
            "```python\ngraph = {}\n```\n")
    assert mermaid_problems(_write(repo, text), repo) == []
