"""Log in and out, own password, language, and staff management."""
from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import abort, current_app, flash, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy.orm.exc import StaleDataError

from ..core import access, audit
from ..core.idempotency import idempotent
from ..core.web import redirect_to, render
from ..extensions import db, limiter, login_manager
from . import bp, rules, services
from .forms import ChangePasswordForm, LoginForm, NewStaffForm, ResetPasswordForm, RoleGrantForm, StaffForm
from .models import ROLES, RoleGrant, User

ROLE_LABELS = {
    "sysadmin": _l("System administrator"),
    "hq_admin": _l("Head-office administrator"),
    "branch_manager": _l("Branch manager"),
    "grid_officer": _l("Grid officer"),
    "village_secretary": _l("Village secretary"),
    "panel_member": _l("Review panel member"),
    "mediator": _l("Mediator"),
    "auditor": _l("Auditor"),
}
PASSWORD_PROBLEMS = {
    "too_short": _l("At least 8 characters."),
    "too_simple": _l("Too simple: do not use repeated digits."),
    "contains_login": _l("Do not put your username or mobile in the password."),
}


@login_manager.user_loader
def load_user(session_id: str):
    try:
        user_id, epoch = (int(part) for part in session_id.split(":"))
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_epoch != epoch:
        return None
    return user


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("core.home")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@access.public
def login():
    """The login page: username or mobile, and password."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("core.home"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    error = None
    if form.validate_on_submit():
        result = services.authenticate(form.login.data, form.password.data, request.remote_addr)
        if result.user is not None:
            db.session.commit()
            login_user(result.user)
            if result.user.must_change_password:
                return redirect(url_for("accounts.change_password"), 303)
            return redirect(_safe_next(form.next.data), 303)
        db.session.commit()
        if result.error == "locked":
            error = _("Too many wrong passwords. Try again in %(seconds)d seconds.", seconds=result.wait_seconds)
        elif result.error == "inactive":
            error = _("This account is disabled. Ask your administrator.")
        else:
            error = _("Wrong username or password.")
    status = 422 if request.method == "POST" else 200
    return render("accounts/login.html", "accounts/_login_form.html", status=status, form=form, error=error)


@bp.post("/logout")
@access.any_user
def logout():
    """Sign out of this device."""
    audit.record("logout", "users", current_user.id)
    db.session.commit()
    logout_user()
    flash(_("You have signed out."), "ok")
    return redirect(url_for("accounts.login"), 303)


@bp.route("/account/password", methods=["GET", "POST"])
@access.any_user
def change_password():
    """Change one's own password (forced after an admin reset)."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not services.check_password(current_user, form.current.data):
            form.current.errors.append(_("The current password is wrong."))
        else:
            problem = rules.password_problem(form.new.data, current_user.username, current_user.mobile or "")
            if problem:
                form.new.errors.append(str(PASSWORD_PROBLEMS[problem]))
            else:
                user = current_user._get_current_object()
                services.change_password(user, form.new.data)
                db.session.commit()
                login_user(user)  # this device stays signed in under the new epoch
                return redirect_to("core.home", _("Password changed. Other devices have been signed out."))
    status = 422 if form.errors else 200
    return render("accounts/change_password.html", "accounts/_password_form.html", status=status, form=form)


@bp.post("/account/sign-out-everywhere")
@access.any_user
def sign_out_everywhere():
    """Sign out on every device (a lost phone)."""
    services.sign_out_everywhere(current_user._get_current_object())
    db.session.commit()
    logout_user()
    flash(_("Signed out on every device."), "ok")
    return redirect(url_for("accounts.login"), 303)


@bp.route("/language/<lang>", methods=["GET", "POST"])
@access.public
def set_language(lang: str):
    """Switch between Chinese and English; remembered in a cookie."""
    if lang not in current_app.config["LANGUAGES"]:
        abort(404)
    target = request.values.get("next")
    if not target and request.referrer:
        ref = urlsplit(request.referrer)
        if ref.netloc == request.host:
            target = ref.path + (f"?{ref.query}" if ref.query else "")
    response = make_response(redirect(_safe_next(target), 303))
    response.set_cookie("lang", lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                        secure=request.is_secure)
    return response


# ---------------------------------------------------------------- staff management

def _scope_choices(role: str) -> list[tuple[str, str]]:
    from ..org.models import Branch, County, Village
    scope_type = ROLES.get(role)
    counties = access.admin_county_ids()
    if scope_type == "county":
        stmt = sa.select(County).order_by(County.admin_code)
        if counties is not None:
            stmt = stmt.where(County.id.in_(counties))
        return [(f"county:{c.id}", c.name) for c in db.session.scalars(stmt)]
    if scope_type == "branch":
        stmt = sa.select(Branch).order_by(Branch.code)
        if counties is not None:
            stmt = stmt.where(Branch.county_id.in_(counties))
        return [(f"branch:{b.id}", f"{b.code} {b.name}") for b in db.session.scalars(stmt)]
    if scope_type == "village":
        stmt = sa.select(Village).order_by(Village.stat_code)
        if counties is not None:
            stmt = stmt.where(Village.county_id.in_(counties))
        return [(f"village:{v.id}", v.name) for v in db.session.scalars(stmt)]
    label = _("No scope (from grid assignments)") if role == "grid_officer" else _("Whole system")
    return [("none", label)]


def _staff_query():
    stmt = sa.select(User).order_by(User.username)
    counties = access.admin_county_ids()
    if counties is not None:
        # An hq_admin manages the staff holding roles in their counties (or no role yet).
        from ..org.models import Branch, Village
        in_county = sa.or_(
            sa.and_(RoleGrant.scope_type == "county", RoleGrant.scope_id.in_(counties)),
            sa.and_(RoleGrant.scope_type == "branch",
                    RoleGrant.scope_id.in_(sa.select(Branch.id).where(Branch.county_id.in_(counties)))),
            sa.and_(RoleGrant.scope_type == "village",
                    RoleGrant.scope_id.in_(sa.select(Village.id).where(Village.county_id.in_(counties)))),
            RoleGrant.scope_type.is_(None) & (RoleGrant.role == "grid_officer"))
        has_grant = sa.select(RoleGrant.user_id).where(in_county)
        no_grant = ~sa.exists().where(RoleGrant.user_id == User.id)
        stmt = stmt.where(sa.or_(User.id.in_(has_grant), no_grant))
        stmt = stmt.where(~User.id.in_(sa.select(RoleGrant.user_id).where(RoleGrant.role == "sysadmin")))
    return stmt


def _get_staff_or_404(user_id: int) -> User:
    return db.one_or_404(_staff_query().where(User.id == user_id))


@bp.get("/staff")
@access.policy(read=access.STAFF_ADMINS)
def staff_index():
    """Staff accounts, searchable by name, username or mobile."""
    q = (request.args.get("q") or "").strip()
    page = max(request.args.get("page", 1, type=int), 1)
    stmt = _staff_query()
    if q:
        like = f"%{q}%"
        stmt = stmt.where(sa.or_(User.name.like(like), User.username.like(like), User.mobile.like(like)))
    users = db.paginate(stmt, page=page, per_page=30, error_out=False)
    return render("accounts/staff_index.html", "accounts/_staff_rows.html", users=users, q=q,
                  role_labels=ROLE_LABELS)


@bp.route("/staff/new", methods=["GET", "POST"])
@access.policy(read=access.STAFF_ADMINS, write=access.STAFF_ADMINS)
@idempotent
def staff_new():
    """Create a staff account with a temporary password."""
    form = NewStaffForm()
    if form.validate_on_submit():
        if services.find_login(form.username.data) or (form.mobile.data and services.find_login(form.mobile.data)):
            form.username.errors.append(_("This username or mobile is already in use."))
        else:
            user = services.create_user(username=form.username.data, name=form.name.data.strip(),
                                        password=form.password.data, mobile=form.mobile.data,
                                        employee_no=form.employee_no.data, position=form.position.data,
                                        must_change=True)
            return redirect_to("accounts.staff_edit", _("Account created."), user_id=user.id)
    status = 422 if form.errors else 200
    return render("accounts/staff_new.html", "accounts/_staff_new_form.html", status=status, form=form)


@bp.route("/staff/<int:user_id>", methods=["GET", "POST"])
@access.policy(read=access.STAFF_ADMINS, write=access.STAFF_ADMINS)
def staff_edit(user_id: int):
    """Edit a staff account; a stale form is refused with the other person's change shown."""
    user = _get_staff_or_404(user_id)
    form = StaffForm(obj=user) if request.method == "GET" else StaffForm()
    if request.method == "GET":
        form.version.data = str(user.version)
    conflict = None
    if form.validate_on_submit():
        if form.version.number != user.version:
            conflict = user
        else:
            user.name = form.name.data.strip()
            user.mobile = form.mobile.data or None
            user.employee_no = form.employee_no.data or None
            user.position = form.position.data or None
            if user.active and not form.active.data:
                user.session_epoch += 1
            user.active = form.active.data
            try:
                db.session.commit()
            except StaleDataError:
                db.session.rollback()
                conflict = _get_staff_or_404(user_id)
            else:
                return redirect_to("accounts.staff_edit", _("Saved."), user_id=user.id)
    if conflict is not None:
        form.version.data = str(conflict.version)
        return render("accounts/staff_edit.html", "accounts/_staff_form.html", status=409, form=form, user=conflict,
                      conflict=conflict, grant_form=_grant_form(), role_labels=ROLE_LABELS,
                      reset_form=ResetPasswordForm())
    status = 422 if form.errors else 200
    return render("accounts/staff_edit.html", "accounts/_staff_form.html", status=status, form=form, user=user,
                  conflict=None, grant_form=_grant_form(), role_labels=ROLE_LABELS, reset_form=ResetPasswordForm())


def _grant_form(role: str | None = None) -> RoleGrantForm:
    form = RoleGrantForm()
    allowed = [r for r in ROLES if r != "sysadmin" or current_user.has_role("sysadmin")]
    form.role.choices = [(r, str(ROLE_LABELS[r])) for r in allowed]
    role = role or form.role.data or allowed[0]
    form.scope.choices = _scope_choices(role)
    return form


@bp.post("/staff/<int:user_id>/roles")
@access.policy(read=access.STAFF_ADMINS, write=access.STAFF_ADMINS)
@idempotent
def staff_add_role(user_id: int):
    """Grant a role on an org unit."""
    user = _get_staff_or_404(user_id)
    form = _grant_form(request.form.get("role"))
    if form.role.data not in ROLES:
        abort(422)
    if form.validate_on_submit():
        scope_type, scope_id = None, None
        if form.scope.data not in ("none",):
            scope_type, raw_id = form.scope.data.split(":")
            scope_id = int(raw_id)
        exists = any(g.role == form.role.data and g.scope_type == scope_type and g.scope_id == scope_id
                     for g in user.roles)
        if not exists:
            user.roles.append(RoleGrant(role=form.role.data, scope_type=scope_type, scope_id=scope_id))
            db.session.flush()
        return redirect_to("accounts.staff_edit", _("Role granted."), user_id=user.id)
    flash(_("Choose a role and a scope."), "error")
    return redirect_to("accounts.staff_edit", user_id=user.id)


@bp.post("/staff/<int:user_id>/roles/<int:grant_id>/remove")
@access.policy(read=access.STAFF_ADMINS, write=access.STAFF_ADMINS)
def staff_remove_role(user_id: int, grant_id: int):
    """Withdraw a role grant."""
    user = _get_staff_or_404(user_id)
    grant = next((g for g in user.roles if g.id == grant_id), None)
    if grant is None:
        abort(404)
    user.roles.remove(grant)
    user.session_epoch += 1
    db.session.commit()
    return redirect_to("accounts.staff_edit", _("Role withdrawn."), user_id=user.id)


@bp.post("/staff/<int:user_id>/reset-password")
@access.policy(read=access.STAFF_ADMINS, write=access.STAFF_ADMINS)
def staff_reset_password(user_id: int):
    """Set a temporary password that must be changed at next login."""
    user = _get_staff_or_404(user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        services.admin_reset_password(user, form.password.data)
        db.session.commit()
        return redirect_to("accounts.staff_edit", _("Temporary password set; the user must change it."),
                           user_id=user.id)
    flash(" ".join(form.password.errors) or _("Enter a temporary password."), "error")
    return redirect_to("accounts.staff_edit", user_id=user.id)


@bp.get("/staff/role-scopes")
@access.policy(read=access.STAFF_ADMINS)
def staff_role_scopes():
    """The scope options for a role (htmx, when the role select changes)."""
    form = _grant_form(request.args.get("role") if request.args.get("role") in ROLES else None)
    return render("accounts/_scope_select.html", "accounts/_scope_select.html", grant_form=form)
