"""Every fenced code block of README.md and docs/ is executed or checked, by kind.

The rule for each kind of block (its fence's language):

- ``python``: run. Each page's Python blocks run in order in one namespace, in a
  subprocess (so ``set_llm_cache`` and LlamaIndex ``Settings`` never leak between pages),
  in an empty temporary directory, offline (any connection or name lookup that would
  leave this machine raises), with a time limit (a hang guard, not a speed check). The
  reader's own objects that examples name (``my_embedding_api``, ``my_chat_model``...)
  are defined first as offline stand-ins: see ``doc_placeholders.py``, and nothing else
  is. A page whose blocks use the documented Redis addresses (``redis://127.0.0.1:6379``
  for a standalone server, ``127.0.0.1:7000`` for a cluster node) runs against the test
  servers instead (a Redis 8 and a 3 + 3 cluster on free loopback ports, flushed before
  each page): only those address strings are replaced.
- ``bash`` / ``sh`` / ``shell`` / ``console``: each command (for ``console``, the lines
  starting with ``$``; comments dropped) is checked, not run, because the commands start
  servers on fixed ports, install packages or run the whole suite:
  ``make T``: T is a target of the Makefile; ``pip install R...``: each requirement is
  this distribution with extras that pyproject defines, or a package pyproject names;
  ``semcache SUB...``: ``semcache SUB... --help`` succeeds (this checkout's CLI) and
  every ``--option`` of the line appears in that help; ``python FILE`` / ``python -m
  MODULE``: the file or module exists here and every ``--option`` appears in its source.
  Any other command fails the test until a rule for it is added here.
- ``text``: not code (file layouts, printed output); not run. The exception tree (a
  ``text`` block opening with ``SemCacheError``) is checked: it names every subclass of
  ``SemCacheError`` in ``semcache_core.errors`` and nothing else, and a mix-in written
  after a name (``InvalidKeyError (TypeError)``) is one of that class's bases.
- An unlabelled fence, or another language, fails the test: label it.

A block that cannot run (say, it needs a real API key) is preceded by a visible marker
``<!-- docs-test: skip: REASON -->``; the reason is required, and ``MAX_SKIPS`` caps them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
from doc_blocks import Block, blocks_of
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# docs/benchmarks/ holds the generated report (`semcache bench` output): no code blocks of ours
PAGES = [
    ROOT / "README.md",
    *sorted(
        p
        for p in (ROOT / "docs").rglob("*.md")
        if "benchmarks" not in p.relative_to(ROOT / "docs").parts
    ),
]
MAX_SKIPS = 3
PAGE_TIME_LIMIT_S = 600  # a hang guard: the first import of the frameworks is slow on 2 cores
SHELL_LANGS = {"bash", "sh", "shell", "console"}
KNOWN_LANGS = {"python", "text", *SHELL_LANGS}
STANDALONE_ADDRESS = "redis://127.0.0.1:6379"
CLUSTER_ADDRESS = "127.0.0.1:7000"

ALL_BLOCKS = [block for page in PAGES for block in blocks_of(page, ROOT)]
PYTHON_PAGES = sorted({b.page for b in ALL_BLOCKS if b.lang == "python" and b.skip_reason is None})
SHELL_BLOCKS = [b for b in ALL_BLOCKS if b.lang in SHELL_LANGS and b.skip_reason is None]


def test_the_pages_have_blocks() -> None:
    assert len(PAGES) > 10 and len(PYTHON_PAGES) > 5 and SHELL_BLOCKS


def test_every_block_has_a_known_kind() -> None:
    unknown = [
        f"{b.where} ({b.lang or 'unlabelled'})" for b in ALL_BLOCKS if b.lang not in KNOWN_LANGS
    ]
    assert not unknown, f"label these fences with one of {sorted(KNOWN_LANGS)}: {unknown}"


def test_skips_are_rare() -> None:
    skipped = [f"{b.where}: {b.skip_reason}" for b in ALL_BLOCKS if b.skip_reason is not None]
    assert len(skipped) <= MAX_SKIPS, skipped


@pytest.mark.parametrize("page", PYTHON_PAGES)
def test_python_blocks_run(page: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    blocks = [
        b for b in ALL_BLOCKS if b.page == page and b.lang == "python" and b.skip_reason is None
    ]
    codes = [b.code for b in blocks]
    if any(STANDALONE_ADDRESS in c or CLUSTER_ADDRESS in c for c in codes):
        redis = request.getfixturevalue("doc_redis")
        redis.standalone.client().flushall()
        cluster_client = redis.cluster.client()
        cluster_client.flushall(target_nodes=cluster_client.PRIMARIES)
        cluster_client.close()
        codes = [
            c.replace(STANDALONE_ADDRESS, redis.standalone.url).replace(
                CLUSTER_ADDRESS, redis.cluster.nodes[0]
            )
            for c in codes
        ]
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "root": str(ROOT),
                "page": page,
                "blocks": [[b.line, c] for b, c in zip(blocks, codes)],
                "report": str(tmp_path / "ran.txt"),
            }
        )
    )
    work = tmp_path / "cwd"
    work.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("SEMCACHE_BENCH_RESULTS", None)
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("doc_runner.py")), str(spec)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=PAGE_TIME_LIMIT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ran = (tmp_path / "ran.txt").read_text().split()
    assert ran == [b.where for b in blocks], done.stdout + done.stderr


TREE_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "text" and b.code.startswith("SemCacheError")]


@pytest.mark.parametrize("block", TREE_BLOCKS, ids=[b.where for b in TREE_BLOCKS])
def test_exception_trees_match_the_hierarchy(block: Block) -> None:
    import semcache_core.errors as errors

    classes = {
        name: cls
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, errors.SemCacheError)
    }
    named = set(re.findall(r"\b([A-Z]\w*Error)\b", block.code)) - {"ValueError", "TypeError"}
    assert named == set(classes), (
        f"{block.where}: missing {sorted(set(classes) - named)}, "
        f"unknown {sorted(named - set(classes))}"
    )
    for name, mixin in re.findall(r"\b([A-Z]\w*Error) \((ValueError|TypeError)\)", block.code):
        bases = [base.__name__ for base in classes[name].__mro__]
        assert mixin in bases, f"{block.where}: {name} is no {mixin}"


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=[b.where for b in SHELL_BLOCKS])
def test_shell_commands_exist(block: Block) -> None:
    for argv in _commands(block):
        _check_command(argv, block.where)


def _commands(block: Block) -> list[list[str]]:
    lines = block.code.splitlines()
    if block.lang == "console":
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    return [argv for line in lines if (argv := shlex.split(line, comments=True))]


def _check_command(argv: list[str], where: str) -> None:
    program, args = argv[0], argv[1:]
    if program == "make":
        missing = [t for t in args if not t.startswith("-") and t not in _make_targets()]
        assert not missing, f"{where}: no such Makefile target {missing}"
    elif program == "pip" and args[:1] == ["install"]:
        for arg in args[1:]:
            if not arg.startswith("-"):
                _check_requirement(arg, where)
    elif program == "semcache":
        _check_cli(args, where)
    elif Path(program).name.startswith("python"):
        if args[:1] == ["-m"]:
            source = ROOT / (args[1].replace(".", "/") + ".py")
            if not source.exists():
                source = source.with_suffix("") / "__main__.py"
            options = args[2:]
        else:
            source, options = ROOT / args[0], args[1:]
        assert source.exists(), f"{where}: {source.relative_to(ROOT)} does not exist"
        text = source.read_text(encoding="utf-8")
        unknown = [o for o in _options(options) if o not in text]
        assert not unknown, f"{where}: {source.name} has no option {unknown}"
    else:
        pytest.fail(f"{where}: no rule for the command {argv} (add one to this test)")


@cache
def _make_targets() -> frozenset[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return frozenset(re.findall(r"^([A-Za-z0-9_.-]+):", text, re.MULTILINE))


@cache
def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _check_requirement(arg: str, where: str) -> None:
    requirement = Requirement(arg)
    project = _pyproject()
    extras = project["optional-dependencies"]
    if canonicalize_name(requirement.name) == canonicalize_name(project["name"]):
        unknown = sorted(requirement.extras - set(extras))
        assert not unknown, f"{where}: pyproject defines no extra {unknown}"
        return
    named = {
        canonicalize_name(Requirement(r).name)
        for r in [*project["dependencies"], *(r for rs in extras.values() for r in rs)]
    }
    assert canonicalize_name(requirement.name) in named, (
        f"{where}: {requirement.name} is neither this distribution nor a package pyproject names"
    )


def _options(args: list[str]) -> list[str]:
    return [a.split("=")[0] for a in args if a.startswith("--")]


def _check_cli(args: list[str], where: str) -> None:
    # the words before the first option: subcommands, then positionals (which argparse
    # takes before it sees --help, so `semcache inspect FILE --help` still prints help)
    first_option = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    path = tuple(args[:first_option])
    help_text = _cli_help(path)
    assert help_text is not None, f"{where}: `semcache {' '.join(path)}` is no command"
    unknown = [o for o in _options(args) if o not in help_text]
    assert not unknown, f"{where}: `semcache {' '.join(path)}` has no option {unknown}"


@cache
def _cli_help(path: tuple[str, ...]) -> str | None:
    done = subprocess.run(
        [sys.executable, "-m", "semcache_integrations.cli", *path, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout if done.returncode == 0 else None
