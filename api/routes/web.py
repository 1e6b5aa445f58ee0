"""The web app: one page that talks to the REST API from the browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.security.policy import PUBLIC, Principal

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, who: Annotated[Principal, Depends(PUBLIC)]) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html")
