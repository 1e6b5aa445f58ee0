"""The web app's pages: server-rendered shells whose scripts call the REST API as the person.

Each page is a template and an ES module (``static/pages/<page>.js``); nothing loads from another
site (the CSP says ``'self'``). Pages anyone may open are served to anyone; the scripts of those
needing a session send the visitor to log in (``static/app.js``), so a page never holds data the
API would not give its caller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.security.policy import PAGE, Principal
from contracts.events import MAX_MOVIE_ID

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")

#: page -> (title, who its script requires: "anyone", "person" or "admin")
PAGES = {"home": ("For you", "anyone"), "login": ("Log in", "anyone"), "signup": ("Sign up", "anyone"),
         "onboarding": ("Welcome", "person"), "search": ("Search", "anyone"), "movie": ("Movie", "anyone"),
         "history": ("Your history", "person"), "profile": ("Profile and privacy", "person"),
         "admin": ("Admin", "admin")}


def _page(request: Request, page: str, **context: object) -> HTMLResponse:
    title, needs = PAGES[page]
    return templates.TemplateResponse(request, f"{page}.html", {"page": page, "title": title, "needs": needs,
                                                                **context})


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, who: Annotated[Principal, Depends(PAGE)]) -> HTMLResponse:
    return _page(request, "home")


@router.get("/movies/{movie_id}", response_class=HTMLResponse)
async def movie(request: Request, movie_id: Annotated[int, PathParam(ge=0, le=MAX_MOVIE_ID)],
                who: Annotated[Principal, Depends(PAGE)]) -> HTMLResponse:
    return _page(request, "movie", movie_id=movie_id)


def _simple(page: str) -> None:
    async def view(request: Request, who: Annotated[Principal, Depends(PAGE)]) -> HTMLResponse:
        return _page(request, page)

    router.add_api_route(f"/{page}", view, methods=["GET"], response_class=HTMLResponse, name=page)


for _name in ("login", "signup", "onboarding", "search", "history", "profile", "admin"):
    _simple(_name)
