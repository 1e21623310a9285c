"""The layout holds: thin edges over one public API, which is what a user needs and no
more; a library that imports no edge and whose stages import only downward; and no import
cycles (type hints' imports included).

Read from the sources' syntax trees (nothing is imported), so the checks are fast and see
imports inside functions too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from conftest import REPO_ROOT

LIBRARY = ("assistant", "ingest")
EDGES = ("paperlens", "app.py", "evals", "benchmarks")
# The evals and benchmarks that use names outside `assistant.__all__` (the library's parts
# they measure, or helpers no user needs), each with why: their imports of library submodules
# are allowed (names from the packages themselves must still be public). The edges a user
# sees (the CLI, the web UI, the MCP server) use the public API only.
WHITE_BOX: dict[str, str] = {
    "evals/runner.py": "cuts an answer's claims before its second tier "
    "(assistant.answering.answer.SECOND_TIER_HEAD)",
    "evals/metrics.py": "reads answers with the library's own splitter, tokeniser and number "
    "rule (assistant.answering.verify, assistant.text.sentences, assistant.text.terms)",
    "evals/judge.py": "judges support with the product's Verifier and the LLM client "
    "(assistant.answering.verify, assistant.llm.client/prompts, assistant.core.types)",
    "evals/attribution.py": "calibrates the Verifier's thresholds "
    "(assistant.answering.verify, assistant.text.terms)",
    "evals/calibration.py": "calibrates the Verifier on claim/source pairs "
    "(assistant.answering.verify, assistant.index.embeddings.get_embedder)",
    "evals/claim_pairs.py": "builds the Verifier's calibration pairs with its tokeniser and "
    "number rule (assistant.answering.verify.numbers, assistant.text.terms)",
    "evals/llm_rule.py": "stands in for the LLM with simulated judges "
    "(assistant.llm.client.Completion)",
    "evals/pdf_metadata.py": "counts an unreadable PDF as empty fields "
    "(assistant.core.errors.IngestError)",
    "evals/vocabulary.py": "subclasses the Retriever to measure query expansion "
    "(assistant.retrieval.retriever.Retriever, assistant.text.terms)",
    "evals/baseline.py": "gives the llama-index baseline the same bundled model "
    "(assistant.index.embeddings.resolve_model_path)",
    "benchmarks/query_latency.py": "gives the llama-index reference the same bundled model "
    "(assistant.index.embeddings.resolve_model_path)",
    "benchmarks/ingest_throughput.py": "times ingest against references on the same model "
    "(assistant.index.embeddings.get_embedder/resolve_model_path)",
    "benchmarks/real_pdf_ingest.py": "times ingest against references on the same model "
    "(assistant.index.embeddings.get_embedder/resolve_model_path)",
    "benchmarks/map_build.py": "times the map's build apart from its cache "
    "(assistant.explore.library_map.build_map)",
    "benchmarks/scale_library.py": "writes synthetic libraries record by record "
    "(assistant.store.library.PaperWrite, assistant.core.types, "
    "assistant.index.embeddings, assistant.text.sentences)",
    "evals/tune_items.py": "fits the list decision's weights on its own features "
    "(assistant.retrieval.decision.hit_signals, assistant.answering.questions.classify)",
    "evals/tier_fit.py": "fits the list decision's weights on its own features "
    "(assistant.retrieval.decision.rank_order/tier_features)",
    "evals/tier_figures.py": "fits the list decision's weights on its own features "
    "(assistant.retrieval.decision.rank_order/tier_features/TIER_FEATURES)",
    "evals/tune_steps.py": "fits the list decision's weights on its own features "
    "(assistant.retrieval.decision.rank_order/TIER_FEATURES)",
    "evals/tune_rule.py": "chooses the list rule's settings by applying the app's own rule to "
    "stored signals (assistant.retrieval.decision.rule_tiers, "
    "assistant.core.settings.RetrievalSettings)",
    "evals/quote_choice.py": "scores each sentence as retrieval does and takes the app's quote "
    "(assistant.retrieval.scoring.attach_sentences, assistant.answering.answer.quote_scores)",
    "evals/map_choice.py": "compares the map's clustering and projection methods "
    "(assistant.explore.library_map.cluster/project/paper_vectors)",
    "benchmarks/scale_probe.py": "times the BM25 index build "
    "(assistant.index.lexical.LexicalIndex) at scale",
    "evals/compare_embedders.py": "reads every stored vector raw (assistant.store.chroma.get_all)",
    "evals/injection_scan.py": "counts what the injection detector flags, sentence by "
    "sentence (assistant.text.injection.flag_paper/injected_sentences, "
    "assistant.text.sentences.split_sentences, assistant.core.types)",
    "evals/tune_judge.py": "chooses how a trusted judge decides by applying the app's own "
    "rules to stored signals (assistant.retrieval.decision.rule_tiers, "
    "assistant.retrieval.llm_decide.judged_tiers/probe_trust, "
    "assistant.core.settings.LLMSettings)",
}
# Cycles that exist only through an import inside a function, each with its reason.
DEFERRED_CYCLES: dict[tuple[str, str], str] = {}


def _files(*roots: str) -> Iterator[Path]:
    for root in roots:
        path = REPO_ROOT / root
        yield from [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _public_names(package: str) -> set[str]:
    """The names in ``package.__all__``, read from its ``__init__.py``."""
    for node in _tree(REPO_ROOT / package / "__init__.py").body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            assert node.value is not None
            return {str(v) for v in ast.literal_eval(node.value)}
    raise AssertionError(f"{package}/__init__.py has no __all__")


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ``from ... import`` names (relative ones resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(
    path: Path, *, runtime: bool = False, deferred: bool = True
) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module, names) for each import in ``path``; names empty for ``import x``.

    ``runtime`` leaves out imports under ``if TYPE_CHECKING:``; ``deferred=False`` leaves
    out those inside functions (which run when called, not when the module is imported).
    """
    module = _module_name(path)
    todo: list[ast.AST] = [_tree(path)]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, module, path.name == "__init__.py")
            yield node.lineno, target, [a.name for a in node.names]
        elif isinstance(node, ast.If) and runtime and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
        elif not deferred and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        else:
            todo.extend(ast.iter_child_nodes(node))


def test_edges_import_only_the_public_api():
    public = {package: _public_names(package) for package in LIBRARY}
    offences = []
    reaching_in = set()
    for path in _files(*EDGES):
        for line, module, names in _imports(path):
            top = module.split(".")[0]
            if top not in LIBRARY:
                continue
            where = f"{_rel(path)}:{line}"
            if module != top:
                reaching_in.add(_rel(path))
                if _rel(path) not in WHITE_BOX:
                    offences.append(f"{where} imports the submodule {module}")
                continue
            for name in names:
                if name.startswith("_") or name not in public[top]:
                    offences.append(f"{where} imports {top}.{name}, not in {top}.__all__")
    assert not offences, "\n".join(offences)
    stale = set(WHITE_BOX) - reaching_in
    assert not stale, f"white-box entries no longer needed, drop them: {sorted(stale)}"
    users = [k for k in WHITE_BOX if not k.startswith(("evals/", "benchmarks/"))]
    assert not users, f"an edge a user sees reaches inside the library: {users}"


def test_every_public_name_has_a_user():
    """`assistant.__all__` holds what a user needs: each name is used by the CLI, the web
    UI or the MCP server, or shown in the README; what only evals use is imported where it
    lives."""
    used = {
        name
        for path in _files("paperlens", "app.py")
        for _, module, names in _imports(path)
        if module == "assistant"
        for name in names
    }
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for line in re.findall(r"^from assistant import (.+)$", readme, flags=re.M):
        used.update(n.strip() for n in line.split(","))
    unused = sorted(_public_names("assistant") - used)
    assert not unused, f"public names no user needs, import them where they live: {unused}"


def test_the_library_imports_no_edge_and_no_web_framework():
    edges = {"paperlens", "app", "evals", "benchmarks", "gradio"}
    offences = [
        f"{_rel(path)}:{line} imports {module}"
        for path in _files(*LIBRARY)
        for line, module, _ in _imports(path)
        if module.split(".")[0] in edges
    ]
    assert not offences, "\n".join(offences)


def _library_graph(deferred: bool, roots: tuple[str, ...] = LIBRARY) -> dict[str, set[str]]:
    """Module -> the modules under ``roots`` it imports when it is imported, type hints'
    imports included (and, with ``deferred``, when its functions run)."""
    paths = {_module_name(p): p for p in _files(*roots)}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        for _, module, names in _imports(path, deferred=deferred):
            # `from pkg import sub` imports the module pkg.sub; other names come from pkg.
            subs = [f"{module}.{n}" for n in names if f"{module}.{n}" in paths]
            targets = subs if names and len(subs) == len(names) else [module, *subs]
            graph[name].update(t for t in targets if t in paths and t != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_inside_the_library():
    graph = _library_graph(deferred=False)
    assert "assistant.core.types" in graph["assistant.chat"], "the graph misses chat.py's imports"
    cycles = _cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_import_cycles_in_the_edges():
    cycles = _cycles(_library_graph(deferred=True, roots=EDGES))
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_cycles_hidden_by_imports_inside_functions():
    graph = _library_graph(deferred=True)
    for (a, b), why in DEFERRED_CYCLES.items():
        assert b in graph[a] and a in graph[b], f"{a} <-> {b} is gone: drop it ({why})"
        graph[b].discard(a)
    cycles = _cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


# The stages of a question, lowest first: a package imports only its own and lower ones
# (imports inside functions and under TYPE_CHECKING count). The modules at the top of
# `assistant` (the package's API and `chat`, the conversation) may import any stage.
STAGES = ("core", "text", "llm", "store", "index", "retrieval", "answering", "explore")


def test_each_stage_imports_only_its_own_and_lower_stages():
    root = REPO_ROOT / "assistant"
    packages = {p.name for p in root.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(STAGES), f"stages and packages differ: {packages ^ set(STAGES)}"
    offences = []
    for path in _files("assistant"):
        module = _module_name(path).split(".")
        if len(module) < 3:
            continue  # the top: assistant/__init__.py, chat.py, a stage's own __init__.py
        rank = STAGES.index(module[1])
        for line, target, _ in _imports(path):
            parts = target.split(".")
            if parts[0] == "assistant" and len(parts) > 1 and parts[1] in STAGES:
                if STAGES.index(parts[1]) > rank:
                    offences.append(f"{_rel(path)}:{line} ({module[1]}) imports {target}")
            elif parts[0] == "assistant" and len(parts) > 1:
                offences.append(f"{_rel(path)}:{line} imports the top module {target}")
    assert not offences, "\n".join(offences)
