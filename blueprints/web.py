"""Server-rendered pages for employees: thin views over the identity core and the API tier.

Every call to the API tier goes through ``orders_api`` with the signed-in
user's access token for exactly the scope the call needs; a scope used by
one feature only (``Orders.Write``) is asked for the first time that feature
is used (incremental consent), and the form survives the round trip.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for

from entra_auth.errors import DownstreamUnavailable, InteractionRequired
from entra_auth.flask_ext import entra_state
from entra_auth.flask_web import access_token_for, current_user, login_required, roles_required
from entra_auth.group_membership import GraphPermissionMissing, MembershipUnavailable

from .auth import DRAFT_PREFIX
from .claims_explained import explain_claims
from .web_config import api_scope

bp = Blueprint("web", __name__)

ORDER_FIELDS = ("item", "quantity", "note")
ORDER_DRAFT = f"{DRAFT_PREFIX}order"  # kept across the consent round trip


def _call_api(method: str, path: str, scope: str, **kwargs):
    scopes = [api_scope(scope)]
    # The page's request id goes along, so the API tier's log lines carry the same reference.
    return entra_state().web.orders_api.call(method, path, access_token_for(scopes), scopes=scopes,
                                             headers={"X-Request-Id": g.request_id}, **kwargs)


# Each page asks the API for exactly the set it shows (the API's ``view``).
MY_ORDERS = "orders?view=own"
TENANT_ORDERS = "orders?view=tenant"


def _orders_or_error(response) -> list[dict]:
    if response.status_code != 200:
        raise DownstreamUnavailable(f"the Orders API answered {response.status_code}")
    return response.json().get("orders", [])


@bp.get("/")
def index():
    return render_template("index.html")


@bp.get("/profile")
@login_required
def profile():
    """What the app knows about you: the validated ID-token claims, and your profile fetched on your behalf."""
    downstream, downstream_error = None, None
    try:
        response = _call_api("GET", "me", "Orders.Read")
        if response.status_code == 200:
            downstream = response.json()
        else:
            downstream_error = _api_problem(response)
    except DownstreamUnavailable:
        # The rest of the page still renders: only this panel depends on the downstream.
        downstream_error = "The directory profile service is unavailable right now. Try again in a moment."
    roles, roles_error = None, None
    try:
        roles = current_user.effective_roles
    except MembershipUnavailable:
        roles_error = "Your group memberships cannot be checked right now. Try again in a moment."
    except GraphPermissionMissing as exc:
        roles_error = f"Your group memberships cannot be read: the app lacks the permission {exc.permission}."
    customer = customer_tenant()
    return render_template("profile.html", claims=explain_claims(current_user.claims, customer=customer),
                           downstream=downstream, downstream_error=downstream_error, customer=customer,
                           roles=roles, roles_error=roles_error)


@bp.app_context_processor
def _customer_tenant() -> dict:
    return {"customer_tenant": customer_tenant()}


def customer_tenant() -> bool:
    """Whether users are customers of an External ID tenant (a ciamlogin.com or custom-domain authority)."""
    return current_app.config.get("ENTRA_AUTHORITY_KIND") in ("ciam", "oidc")


@bp.get("/orders")
@login_required
def orders():
    mine = _orders_or_error(_call_api("GET", MY_ORDERS, "Orders.Read"))
    draft = session.pop(ORDER_DRAFT, None)
    return render_template("orders.html", orders=mine, draft=draft or {}, errors={})


@bp.post("/orders")
@login_required
def create_order():
    form = {k: request.form.get(k, "")[:600] for k in ORDER_FIELDS}
    errors: dict[str, str] = {}
    try:
        quantity = int(form["quantity"])
    except ValueError:
        errors["quantity"] = "a whole number"
        quantity = 0
    if not errors:
        try:
            response = _call_api("POST", "orders", "Orders.Write",
                                 json={"item": form["item"], "quantity": quantity, "note": form["note"]})
        except InteractionRequired:
            # Orders.Write is asked for on first use: keep the form for the way back.
            session[ORDER_DRAFT] = form
            raise
        if response.status_code == 201:
            flash(f"Order placed: {response.json()['quantity']} × {response.json()['item']}.")
            return redirect(url_for("web.orders"), code=303)
        if response.status_code == 400:
            errors = response.json().get("errors", {})
        else:
            raise DownstreamUnavailable(f"the Orders API answered {response.status_code}")
    mine = _orders_or_error(_call_api("GET", MY_ORDERS, "Orders.Read"))
    return render_template("orders.html", orders=mine, draft=form, errors=errors), 400


@bp.get("/admin")
@roles_required("Orders.Admin")
def admin():
    """All orders of the admin's tenant, through the API with the admin's own token."""
    response = _call_api("GET", TENANT_ORDERS, "Orders.Read")
    if response.status_code == 403 or (response.status_code == 200 and response.json().get("view") != "tenant"):
        abort(403, "The Orders API does not recognise you as an administrator.")
    return render_template("admin.html", orders=_orders_or_error(response))


def _api_problem(response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 403 and body.get("error") == "consent_required":
        return body.get("message", "An administrator must grant a permission first.")
    return f"The service answered {response.status_code}."
