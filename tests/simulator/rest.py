"""The contract-based REST API: endpoint index, swagger, login/logout and entity reads."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl

from . import economy, renderpool
from .archive import shows_archived
from .filtering import FilterSyntaxError, parse_filter
from .render import RequestError
from .state import Simulator
from .swagger import swagger_bytes
from .values import datetime_to_ms
from .wire import (
    Request,
    Response,
    http_date,
    http_error,
    invalid_request,
    json_response,
    not_found_resource,
)

LIST_OPTIONS = frozenset({"$top", "$skip", "$filter", "$select", "$expand", "$custom"})


@functools.cache
def _login_failed_body() -> bytes:
    """The real 500 body of a login with bad credentials (recorded from a 2023 instance)."""
    from .swagger import FIXTURES

    path = FIXTURES / "sample-error-500-login-invalid-credentials-jetbuilt.json"
    return json.dumps(json.loads(path.read_text())).encode()


# ---- endpoint index and swagger ------------------------------------------------------------


def endpoints(sim: Simulator) -> Response:
    base = sim.options["instance_path"]
    return json_response(
        200,
        {
            "version": {"acumaticaBuildVersion": sim.options["build_version"]},
            "endpoints": [
                {"name": "Default", "version": v, "href": f"{base}/entity/Default/{v}/"}
                for v in sim.options["versions"]
            ],
        },
    )


def swagger(sim: Simulator, version: str) -> Response:
    """The real file (17.200.001-24.200.001, byte-exact), or the completed excerpt."""
    return Response(200, swagger_bytes(sim.contract_key(version)))


# ---- login session ---------------------------------------------------------------------------


def _credentials(req: Request) -> dict | None:
    ctype = req.headers.get("content-type", "")
    text = req.body.decode("utf-8-sig", "replace").strip()
    if not text:
        return None
    if "json" in ctype or text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None
    return dict(parse_qsl(text, keep_blank_values=True))


def login(sim: Simulator, req: Request) -> Response:
    creds = _credentials(req)
    if creds is None:
        return invalid_request("The request body should not be empty.")
    if creds.get("tenant") and creds.get("company"):
        sim.counters.incr("login_failures")
        return invalid_request("Specify either the tenant or the company, not both.")
    opts = sim.options
    tenant_name = creds.get("tenant") or creds.get("company") or sim.tenants[0]
    if creds.get("name") != opts["username"] or creds.get("password") != opts["password"]:
        sim.counters.incr("login_failures")
        return Response(500, _login_failed_body())
    tenant = sim.tenant_named(str(tenant_name))
    if tenant is None:  # unverified: the exact text a real instance gives
        sim.counters.incr("login_failures")
        return http_error(
            500, "An error has occurred.", f"Error: The tenant '{tenant_name}' does not exist."
        )
    with sim.lock:
        auth = sim.auth
        auth.purge()
        # A login that still carries a live session cookie replaces that session (unverified).
        auth.close_session(req.cookies.get(".ASPXAUTH"))
        if len(auth.sessions) >= opts["seat_limit"]:
            sim.counters.incr("login_failures")
            return http_error(
                int(opts["seat_limit_status"]),
                "An error has occurred.",
                "You have reached the API Login Limit of "
                f"{opts['seat_limit']} concurrent API sessions. Sign out from an existing "
                "session or wait until it expires, then try again.",
            )
        branch = str(creds.get("branch") or "1")
        locale = str(creds.get("locale") or "en-US")
        session = auth.open_session(creds["name"], tenant, branch, locale)
        sim.counters.incr("logins")
    expires = http_date(3 * 86400)
    return Response(
        204,
        content_type=None,
        headers=[
            ("Set-Cookie", f".ASPXAUTH={session.token}; path=/; HttpOnly"),
            (
                "Set-Cookie",
                f"ASP.NET_SessionId={session.session_id}; path=/; HttpOnly; SameSite=Lax",
            ),
            ("Set-Cookie", f"CompanyID={tenant}; expires={expires}; path=/"),
            (
                "Set-Cookie",
                f"Locale=Culture={locale}&TimeZone=GMTM0800A; expires={expires}; path=/",
            ),
            ("Set-Cookie", f"UserBranch={branch}; path=/"),
        ],
    )


def logout(sim: Simulator, req: Request) -> Response:
    """204 always; ends the cookie session, or the server session of a Bearer token."""
    bearer = req.bearer()
    with sim.lock:
        if bearer is not None:
            token = sim.auth.bearer(bearer)
            if token is not None and token.session_open:
                token.session_open = False
            sim.counters.incr("bearer_logouts")
            sim.counters.incr("logouts")
        elif sim.auth.close_session(req.cookies.get(".ASPXAUTH")):
            sim.counters.incr("logouts")
    return Response(
        204,
        content_type=None,
        headers=[
            ("Set-Cookie", ".ASPXAUTH=; expires=Tue, 12-Oct-1999 00:00:00 GMT; path=/; HttpOnly"),
            ("Set-Cookie", f"ASP.NET_SessionId=; expires={http_date(-365 * 86400)}; path=/"),
        ],
    )


def authenticate(sim: Simulator, req: Request) -> str | None:
    """'session'/'bearer' when the request carries a live session or token, else None."""
    bearer = req.bearer()
    with sim.lock:
        if bearer is not None:
            token = sim.auth.bearer(bearer)
            if token is None:
                return None
            token.session_open = True
            return "bearer"
        if sim.auth.session(req.cookies.get(".ASPXAUTH")) is not None:
            return "session"
    return None


# ---- entity reads ---------------------------------------------------------------------------


def _int_option(query: dict, name: str) -> int | None:
    if name not in query or query[name] == "":
        return None
    value = int(query[name])
    if value < 0:
        raise ValueError(name)
    return value


def _options(renderer, query: dict):
    """($select, $expand tree, $custom) of a read; unknown $-options (e.g. $orderby) fail."""
    bad = [k for k in query if k.startswith("$") and k not in LIST_OPTIONS]
    if bad:
        raise RequestError(f"The query parameter '{bad[0]}' is not supported.")
    expand = renderer.parse_expand(query.get("$expand", ""))
    select = renderer.parse_select(query.get("$select", ""), expand)
    custom = renderer.parse_custom(query.get("$custom", ""))
    return select, expand, custom


def _optimization_failure(sim: Simulator, entity: str, query: dict) -> Response | None:
    config = (sim.faults.config.get("optimization_failure") or {}).get(entity)
    if not config:
        return None
    asked = {
        p.strip().split("/")[0]
        for key in ("$expand", "$select")
        for p in query.get(key, "").split(",")
        if p.strip()
    }
    hit = [name for name in config if name in asked]
    if not hit:
        return None
    sim.counters.incr("faults_injected.optimization_failure")
    lines = "\r\n".join(
        f"{name}.{name}ID: The field is calculated by a view delegate and cannot be exported "
        "in optimized mode."
        for name in hit
    )
    return http_error(
        500,
        "An error has occurred.",
        f"Optimization cannot be performed. The following fields cause the error:\r\n{lines}",
        "PX.Api.ContractBased.OptimizedExport.CannotOptimizeException",
    )


def list_records(sim: Simulator, req: Request, version: str, entity: str) -> Response:
    renderer = sim.renderer(version, entity)
    query = req.query
    try:
        select, expand, custom = _options(renderer, query)
        top = _int_option(query, "$top")
        skip = _int_option(query, "$skip") or 0
    except RequestError as exc:
        return invalid_request(str(exc))
    except ValueError:
        return invalid_request("The query parameters $top and $skip must be non-negative integers.")
    failure = _optimization_failure(sim, entity, query)
    if failure is not None:
        return failure
    filt = None
    if query.get("$filter", "").strip():
        tz = timezone(timedelta(minutes=int(sim.options["filter_timezone_minutes"])))
        try:
            filt = parse_filter(query["$filter"], dialect="rest", local_tz=tz)
        except FilterSyntaxError as exc:
            return invalid_request(str(exc))
        unknown = sorted(set(filt.fields) - renderer.known_filter_fields())
        if unknown:
            return invalid_request(
                f"The field '{unknown[0]}' of the entity {entity} "
                "cannot be used in $filter: it is not found."
            )
    page, scanned = _select_rows(sim, renderer, filt, skip, top, shows_archived(req.headers))
    _charge(sim, renderer, page, scanned, select, expand)
    workers = int(sim.options["render_workers"])
    if workers > 0 and page:
        opts = sim.options
        world = (opts["seed"], tuple(opts["timezone_offsets"]), opts["instance_path"])
        gzipped = "gzip" in req.headers.get("accept-encoding", "")
        body = renderpool.render_list(
            workers,
            world,
            sim.contract_key(version),
            entity,
            (select, expand, custom),
            page,
            gzipped,
        )
        sim.counters.incr("pages_rendered_by_workers")
        return Response(200, body, content_encoding="gzip" if gzipped else None)
    plan = renderer.plan(select, expand, custom)
    body = _render(sim, renderer, plan, page, (version, entity, plan.serial))
    return Response(200, body)


def _select_rows(
    sim: Simulator, renderer, filt, skip: int, top: int | None, show_archived: bool = False
):
    """[(row, version, stamp)] of the page, chosen under the lock (a consistent snapshot),
    and how many rows a server without an index on the filtered fields examines for it.

    No index and no order: the server reads rows in row order, tests each against the
    filter and stops once it has ``$skip + $top`` matches (or at the end of the table); an
    unfiltered read stops after ``$skip + $top`` rows. That is what the request is charged
    (``scanned``, spent as time by economy.py). How the simulator itself finds the matches
    is only about sparing the benchmark machine's CPU, which the tap shares: it takes stamp
    candidates from its sorted stamp array, and for a filter on the stamp alone a row
    strictly inside the bounds needs no ``matches()`` call. Neither changes the answer
    (``test_stamp_only_shortcut_answers_as_matches``) nor the charge. Archived rows are
    left out unless ``show_archived`` (archive.py).
    """
    store = renderer.store
    want = None if top is None else skip + top
    with sim.lock:
        stamps, versions = store.stamps, store.versions
        size = len(store)
        hidden = store.archived if not show_archived else ()
        if filt is None:
            live = store.visible_rows(show_archived)
            end = len(live) if top is None else min(len(live), skip + top)
            rows = live[min(skip, end) : end]
            return [(r, versions[r], stamps[r]) for r in rows], end
        lo = hi = None
        sure = False
        for field in renderer.stamp_aliases:
            lo_b, hi_b = filt.bounds(field)
            if lo_b is None and hi_b is None:
                continue
            # A superset of candidates (ms-rounded, inclusive); matches() decides exactly.
            if lo_b is not None and _aware(lo_b.value):
                lo = datetime_to_ms(lo_b.value) - 1
            if hi_b is not None and _aware(hi_b.value):
                hi = datetime_to_ms(hi_b.value) + 1
            # The filter is on this stamp alone: strictly inside the floored bounds every
            # row matches whatever the operators; only a bound's millisecond needs matches().
            sure = (
                filt.range_field == field
                and (lo_b is None or lo is not None)
                and (hi_b is None or hi is not None)
            )
            break
        candidates = (
            store.rows_between(lo, hi) if (lo is not None or hi is not None) else store.live_rows()
        )
        inner_lo = -(1 << 62) if lo is None else lo + 1
        inner_hi = (1 << 62) if hi is None else hi - 1
        matched = []
        for row in candidates:
            if row in hidden:
                continue
            stamp = stamps[row]
            if (sure and inner_lo < stamp < inner_hi) or filt.matches(
                renderer.getter(row, versions[row], stamp)
            ):
                matched.append((row, versions[row], stamps[row]))
                if want is not None and len(matched) >= want:
                    return matched[skip:], row + 1
        return matched[skip:], size


def _aware(value: object) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def _charge(sim: Simulator, renderer, page, scanned: int, select, expand) -> None:
    """Count what the ERP did for a list page and spend the time it costs (economy.py)."""
    counters, options = sim.counters, sim.options
    rows = len(page)
    counters.incr("records_served", rows)
    counters.incr("rows_scanned", scanned)
    selected = None
    if select is not None:
        selected = sum(1 for name in select if "/" not in name and name in renderer.edef.scalars)
    whole = selected is None or selected >= len(renderer.edef.scalars)
    counters.incr("rows_whole" if whole else "rows_narrowed", rows)
    expansions = economy.count_expansions(expand)
    if expansions:
        counters.incr("rows_expanded", rows)
    economy.spend(
        scanned * float(options["scan_us_per_row"])
        + economy.render_cost_us(options, rows, selected, len(renderer.edef.scalars), expansions)
    )


def _render(sim: Simulator, renderer, plan, page, plan_key) -> bytes:
    cache = sim.row_cache
    parts = []
    for number, (row, version, stamp) in enumerate(page, 1):
        key = (plan_key, row, version)
        rest = cache.get(key)
        if rest is None:
            rest = renderer.rest(plan, renderer.bits(row, version), row, stamp)
            cache.put(key, rest)
        parts.append(f'{{"id":"{renderer.store.row_id(row)}","rowNumber":{number}{rest}')
    return ("[" + ",".join(parts) + "]").encode()


def get_record(sim: Simulator, req: Request, version: str, entity: str, key: str) -> Response:
    renderer = sim.renderer(version, entity)
    try:
        select, expand, custom = _options(renderer, req.query)
    except RequestError as exc:
        return invalid_request(str(exc))
    store = renderer.store
    with sim.lock:
        row = store.row_of(key)
        if row is None and renderer.key_field:
            row = _row_by_key(renderer, key)
        if row is not None and row in store.archived and not shows_archived(req.headers):
            row = None  # an archived record is not found unless asked for
        if row is None:
            return not_found_resource(req.base_url + "/" + req.path)
        version_n, stamp = store.versions[row], store.stamps[row]
    plan = renderer.plan(select, expand, custom)
    return Response(200, renderer.record(plan, row, version_n, stamp, 1).encode())


def _row_by_key(renderer, key: str) -> int | None:
    """Key-value addressing (``Customer/C000012``): the generated key embeds the row number."""
    value = key.rsplit("/", 1)[-1]
    digits = value.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if not digits.isdigit():
        return None
    row = int(digits) - 1
    if row in renderer.store.deleted:
        return None
    if 0 <= row < len(renderer.store) and renderer.getter(row, 0, 0)(renderer.key_field) == value:
        return row
    return None


def adhoc_schema(sim: Simulator, version: str, entity: str) -> Response:
    return json_response(200, sim.renderer(version, entity).adhoc_schema())


def truth(
    sim: Simulator, version: str, entity: str, expand: str, custom: bool, archived: bool = False
) -> Response:
    """Every current record (control API), full shape, in row order; archived records only
    with ``archived`` (as a request with ``PX-ApiArchive: SHOW`` sees them)."""
    renderer = sim.renderer(version, entity)
    try:
        tree = renderer.parse_expand(expand)
    except RequestError as exc:
        return invalid_request(str(exc))
    plan = renderer.plan(None, tree, renderer.all_custom() if custom else ())
    page, _scanned = _select_rows(sim, renderer, None, 0, None, archived)
    return Response(200, _render(sim, renderer, plan, page, (version, entity, plan.serial)))
