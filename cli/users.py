"""``cinestream users``: demo logins and roles."""

from __future__ import annotations

import typer

from cli.common import console, fail, require, with_db

app = typer.Typer(help="Accounts: demo logins and roles.", no_args_is_help=True)


@app.command("demo")


def users_demo(user_id: int = typer.Option(1, help="a MovieLens user id from the replayed dataset"),
               admin: bool = typer.Option(False, help="also give the account the admin role")) -> None:
    """Give an imported dataset user a login (a new password each time), for demos."""
    require("mongo")
    from api.services.accounts import demo_login

    roles = ["user", "admin"] if admin else None
    email, password = with_db(lambda db, cipher: demo_login(db, cipher, user_id, roles))
    console.print(f"demo account (MovieLens user {user_id}{', admin' if admin else ''}): {email}  password: {password}")


@app.command("roles")


def users_roles(user_id: int, admin: bool = typer.Option(..., "--admin/--no-admin")) -> None:
    """Grant or take away the admin role."""
    require("mongo")
    from api.services.accounts import AccountError, set_roles

    try:
        with_db(lambda db, cipher: set_roles(db, user_id, ["user", "admin"] if admin else ["user"], "cli"))
    except AccountError as exc:
        fail(str(exc))
    console.print(f"user {user_id}: {'admin' if admin else 'user'}")
