"""mkdocs hooks (``mkdocs.yml``), kept beside it: a hook file's folder goes first on ``sys.path``, and
inside ``cinestream/`` its ``secrets`` module would stand in for the standard library's."""

from cinestream.reference import on_files, on_page_markdown

__all__ = ["on_files", "on_page_markdown"]
