"""The documentation site's generated parts, made at build time from what they describe so they cannot
drift from it: the REST API reference from the app's own OpenAPI schema and route policies, the command
line from typer's command tree, and the measured tables from the files the benches record
(``docs/measured/``, written by ``--record``) rather than typed by hand. Also the site's mkdocs hooks
(``mkdocs_hooks.py``): the two references are added to the build without being written into ``docs/``,
and a page's ``<!-- measured: NAME -->`` (or ``generated:``) line becomes NAME's tables: the benches'
records, and the import contracts as ``lint-imports`` checks them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

API_PAGE, CLI_PAGE = "reference/api.md", "reference/cli.md"
MEASURED = Path(__file__).resolve().parents[1] / "docs" / "measured"
MARKER = re.compile(r"^<!-- (?:measured|generated): ([a-z-]+) -->$", re.M)
PYPROJECT = MEASURED.parents[1] / "pyproject.toml"
RELEASES = ("ml-latest-small", "ml-100k", "ml-1m-synthetic")


def _type_of(schema: dict[str, Any]) -> str:
    """A schema as a short type: ``integer (1–100)``, ``array of string``, ``RatingIn`` (a link)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        return " or ".join(_type_of(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    kind = str(schema.get("type", "object"))
    if kind == "array":
        kind = f"array of {_type_of(schema.get('items', {}))}"
    low, high = schema.get("minimum", schema.get("minLength")), schema.get("maximum", schema.get("maxLength"))
    if low is not None or high is not None:
        kind += f" ({'' if low is None else low}–{'' if high is None else high})"
    return kind


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def documented_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """Every route the OpenAPI schema documents, as (method, full path, route), one per method: what the
    API reference and the client's generated routes (``client_codegen.operations``) both walk."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            found += [(method, str(context.path), route) for method in sorted(route.methods or ())]
    return found


def api_reference(app: FastAPI) -> str:
    """Every route: who may call it, what it takes, what it answers; then every schema's fields."""
    from api.security.policy import policy_of

    spec = app.openapi()
    lines = ["# REST API reference", "",
             "Generated from the running app's OpenAPI schema (`/openapi.json`) and each route's declared policy.",
             "Every error has one shape, [ErrorBody](#errorbody): "
             '`{"error": {"status", "code", "message", "details"}}`.', ""]
    by_tag: dict[str, list[tuple[str, str, APIRoute]]] = {}
    for method, path, route in documented_routes(app):
        if path in spec["paths"]:
            by_tag.setdefault(str((route.tags or ["other"])[0]), []).append((method, path, route))
    for tag in sorted(by_tag):
        lines += [f"## {tag}", ""]
        for method, path, route in sorted(by_tag[tag], key=lambda r: (r[1], r[0])):
            operation = spec["paths"][path][method.lower()]
            policy = policy_of(route)
            lines += [f"### {method} `{path}`", "", f"**Who may call:** {policy.name if policy else 'everyone'}", ""]
            if operation.get("description"):
                lines += [" ".join(operation["description"].split()), ""]
            params = operation.get("parameters", [])
            if params:
                lines += ["| parameter | in | type | required |", "|---|---|---|---|"]
                lines += [f"| `{p['name']}` | {p['in']} | {_cell(_type_of(p.get('schema', {})))} | "
                          f"{'yes' if p.get('required') else 'no'} |" for p in params]
                lines.append("")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                lines += [f"**Body:** {_type_of(body)}", ""]
            lines += ["| status | meaning |", "|---|---|"]
            lines += [f"| {status} | {_cell(answer.get('description'))} |"
                      for status, answer in sorted(operation.get("responses", {}).items())]
            lines.append("")
    lines += ["## Schemas", ""]
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        lines += [f"### {name}", ""]
        if schema.get("description"):
            lines += [" ".join(schema["description"].split()), ""]
        fields = schema.get("properties", {})
        if fields:
            required = set(schema.get("required", []))
            lines += ["| field | type | required | meaning |", "|---|---|---|---|"]
            lines += [f"| `{field}` | {_cell(_type_of(s))} | {'yes' if field in required else 'no'} | "
                      f"{_cell(s.get('description'))} |" for field, s in fields.items()]
            lines.append("")
    return "\n".join(lines) + "\n"


def cli_reference(command: Any) -> str:
    """Every ``cinestream`` command (typer's click command tree) with its help, arguments and options, as
    ``--help`` prints them."""
    lines = ["# Command-line reference", "", "Generated from the `cinestream` command's own definitions "
             "(the same text `--help` prints).", ""]

    def walk(cmd: Any, path: list[str]) -> None:  # typer's own click (typer._click): known by shape
        if hasattr(cmd, "commands"):
            for name in sorted(cmd.commands):
                walk(cmd.commands[name], [*path, name])
            return
        ctx = cmd.context_class(cmd, info_name=" ".join(path))
        lines.extend([f"## `{' '.join(path)}`", "", "```text", cmd.get_usage(ctx), "```", ""])
        if cmd.help:
            lines.extend([" ".join(cmd.help.split()), ""])
        rows = [param.get_help_record(ctx) for param in cmd.get_params(ctx)]
        rows = [r for r in rows if r is not None and not r[0].startswith("--help")]
        if rows:
            lines.extend(["| option | meaning |", "|---|---|"])
            lines.extend(f"| `{_cell(opt)}` | {_cell(meaning)} |" for opt, meaning in rows)
            lines.append("")

    walk(command, ["cinestream"])
    return "\n".join(lines) + "\n"


def on_files(files: Any, config: Any) -> Any:
    """mkdocs hook: add the two generated pages to the build."""
    import typer.main
    from mkdocs.structure.files import File

    from api.main import create_app
    from cli.main import app

    files.append(File.generated(config, API_PAGE, content=api_reference(create_app())))
    files.append(File.generated(config, CLI_PAGE, content=cli_reference(typer.main.get_command(app))))
    return files


def served_lists_tables(folder: Path = MEASURED) -> str:
    """``bench.served_lists --record``'s files as the site's tables: the API's ratios to its references
    on every release recorded, then each release in full."""
    records = [json.loads(p.read_text()) for r in RELEASES if (p := folder / f"served-lists-{r}.json").exists()]
    if not records:
        return "*(nothing recorded yet: run `python -m bench.served_lists --dataset NAME --record`)*\n"
    lines = ["| release | new R = 1: P@10 / most-popular | new R = 5 | new R = 20 | new R = 20 / similar-of-rated "
             "| returning: NDCG@10 / offline hybrid |", "|---|---|---|---|---|---|"]
    for rec in records:
        ratio, back = rec["ratios"], rec["returning"]
        lines.append(f"| {rec['dataset']} | {ratio['new R=1: API / most-popular P@10']:.3f} "
                     f"| {ratio['new R=5: API / most-popular P@10']:.3f} "
                     f"| {ratio['new R=20: API / most-popular P@10']:.3f} "
                     f"| {ratio['new R=20: API / similar-of-rated P@10']:.3f} "
                     f"| {ratio['returning: API / offline hybrid NDCG@10']:.3f} ({back['API']['NDCG@10']:.4f} vs "
                     f"{back['offline hybrid']['NDCG@10']:.4f}) |")
    sources = ("API", "most-popular", "similar-of-rated", "offline hybrid")
    for rec in records:
        lines += ["", f"**{rec['dataset']}** (P@10 / NDCG@10, catalogue coverage, intra-list genre diversity; "
                      f"`{rec['command']}`, {rec['measured']}, commit {rec['commit']}, {rec['posted']:,} events "
                      f"posted through the API):", "",
                  "| people | " + " | ".join(sources) + " |", "|---|" + "---|" * len(sources)]
        groups = [(f"new, R = {r}", rows) for r, rows in rec["new"].items()]
        groups.append((f"returning ({rec['returning']['API']['people']:.0f} lists)", rec["returning"]))
        for label, rows in groups:
            cells = [f"{rows[s]['P@10']:.3f} / {rows[s]['NDCG@10']:.3f}, {rows[s]['coverage']:.4f}, "
                     f"{rows[s]['diversity']:.3f}" if s in rows else "—" for s in sources]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# the order the Benchmarks page lists them in: the stream, serving, the whole system, then models offline
BENCH_ORDER = ("stream-throughput", "freshness", "parse-events", "api-latency", "overload", "redis-cost",
               "mf-serving", "whole-system", "soak", "experiments", "accuracy", "fit-costs", "als-memory")


def _figure(value: float | str) -> str:
    """A figure as people read it: thousands separated, three significant digits below 100."""
    if isinstance(value, str):
        return value
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def bench_tables(folder: Path = MEASURED) -> str:
    """The files the benches' ``--record`` wrote (``docs/measured/bench-*.json``): one headline row per
    recorded run, then each run's full table where it has one."""
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("bench-*.json"))]
    if not records:
        return "*(nothing recorded yet: run a bench with `--record`)*\n"

    def rank(rec: dict[str, Any]) -> tuple[int, str]:
        family = next((i for i, name in enumerate(BENCH_ORDER) if rec["bench"].startswith(name)), len(BENCH_ORDER))
        return family, rec["bench"]

    records.sort(key=rank)
    lines = ["| what | command | figures | measured |", "|---|---|---|---|"]
    for rec in records:
        figures = "; ".join(f"{label} **{_figure(value)}**" for label, value in rec["figures"].items())
        if rec["notes"] and not rec.get("rows"):
            figures += f" ({rec['notes']})"
        lines.append(f"| {_cell(rec['what'])} | `{rec['command']}` | {_cell(figures)} "
                     f"| {rec['measured']}, {rec['commit']} |")
    for rec in records:
        if not rec.get("rows"):
            continue
        columns = list(dict.fromkeys(c for row in rec["rows"].values() for c in row))
        lines += ["", f"**{_cell(rec['what'])}** (`{rec['command']}`{'; ' + rec['notes'] if rec['notes'] else ''}):",
                  "", "| | " + " | ".join(_cell(c) for c in columns) + " |", "|---|" + "---|" * len(columns)]
        lines.extend(f"| {_cell(name)} | " + " | ".join(_figure(row[c]) if c in row else "—" for c in columns) + " |"
                     for name, row in rec["rows"].items())
    return "\n".join(lines) + "\n"


ACCURACY_COLUMNS = ("RMSE", "MAE", "P@10", "R@10", "NDCG@10", "fit s")


def accuracy_tables(folder: Path = MEASURED) -> str:
    """``bench.accuracy --record``'s files: every model beside the references, one table per split."""
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("bench-accuracy-*.json"))]
    if not records:
        return "*(nothing recorded yet: run `python -m bench.accuracy --record`)*\n"
    lines: list[str] = []
    for rec in records:
        ratios = "; ".join(f"{name.replace('_', ' ')} **{_figure(value)}**" for name, value in rec["figures"].items())
        lines += [f"**{_cell(rec['what'])}** (`{rec['command']}`, {rec['measured']}, commit {rec['commit']}; "
                  f"{ratios}):", "", "| model | " + " | ".join(ACCURACY_COLUMNS) + " |",
                  "|---|" + "---|" * len(ACCURACY_COLUMNS)]
        lines.extend(f"| {_cell(name)} | " + " | ".join(f"{row[c]:.4f}" if c in row and c != "fit s" else
                                                       f"{row[c]:.2f}" if c in row else "—"
                                                       for c in ACCURACY_COLUMNS) + " |"
                     for name, row in rec["rows"].items())
        lines.append("")
    return "\n".join(lines)


def import_contracts(pyproject: Path = PYPROJECT) -> str:
    """The layering as ``lint-imports`` checks it: every contract of ``[tool.importlinter]``, in its words."""
    import tomllib

    contracts = tomllib.loads(pyproject.read_text())["tool"]["importlinter"]["contracts"]

    def names(modules: list[str]) -> str:
        return ", ".join(f"`{m}`" for m in modules)

    lines = ["| contract | packages | may not import |", "|---|---|---|"]
    for contract in contracts:
        if contract["type"] == "forbidden":
            who, rule = names(contract["source_modules"]), names(contract["forbidden_modules"])
        elif contract["type"] == "independence":
            who, rule = names(contract["modules"]), "each other"
        else:  # layers, top first: each may import only those below it; a layer's packages ("a | b") not each other
            who = " → ".join(" + ".join(f"`{m.strip()}`" for m in layer.split("|")) for layer in contract["layers"])
            rule = "a layer above its own, or a package beside it (joined by +)"
        lines.append(f"| {_cell(contract['name'])} | {who} | {rule} |")
    return "\n".join(lines) + "\n"


TABLES = {"served-lists": served_lists_tables, "benchmarks": bench_tables, "import-contracts": import_contracts,
          "accuracy": accuracy_tables}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """mkdocs hook: each ``<!-- measured: NAME -->`` (or ``generated:``) line becomes NAME's tables."""
    return MARKER.sub(lambda found: TABLES[found.group(1)](), markdown)
