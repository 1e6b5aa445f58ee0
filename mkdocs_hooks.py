"""mkdocs hooks (``mkdocs.yml``), kept beside it: a hook file's folder goes first on ``sys.path``, and
inside ``core/`` or ``cli/`` their ``secrets`` modules would stand in for the standard library's."""

from cli.reference import on_files, on_page_markdown

__all__ = ["on_files", "on_page_markdown"]
