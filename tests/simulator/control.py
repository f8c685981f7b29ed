"""``__control/*``: the test-side API (no auth, never faulted, not counted as requests)."""

from __future__ import annotations

import json

from . import rest
from .state import Faults, Simulator, now_ms, now_utc
from .swagger import contract
from .wire import Request, Response, json_response


def _body(req: Request) -> dict:
    text = req.body.decode("utf-8").strip()
    return json.loads(text) if text else {}


def handle(sim: Simulator, req: Request) -> Response:
    parts = req.path.rstrip("/").split("/")[1:]
    name = parts[0] if parts else ""
    try:
        return _dispatch(sim, req, name, parts[1:])
    except (ValueError, KeyError, TypeError) as exc:
        return json_response(400, {"error": f"{type(exc).__name__}: {exc}"})


def _dispatch(sim: Simulator, req: Request, name: str, args: list[str]) -> Response:
    method = req.method
    if name == "health":
        return json_response(
            200,
            {
                "status": "ok",
                "versions": sim.options["versions"],
                "contracts": [sim.contract_key(v) for v in sim.options["versions"]],
                "tenants": sim.tenants,
                "instance_path": sim.options["instance_path"],
            },
        )
    if name == "counters":
        return json_response(200, counters(sim))
    if name == "requests":
        kind = req.query.get("kind")
        return json_response(
            200, [r for r in list(sim.request_log) if kind is None or r["kind"] == kind]
        )
    if name == "issued-secrets":
        with sim.lock:
            return json_response(200, list(sim.auth.issued))
    if name == "clock":
        now = now_utc()
        return json_response(
            200, {"now": now.isoformat(timespec="milliseconds"), "epoch_ms": now_ms()}
        )
    if name == "reset" and method == "POST":
        options = {**sim.initial_options, **_body(req)}
        sim.configure(options)
        return json_response(200, {"status": "reset", "options": sim.options})
    if name == "faults" and method == "POST":
        return _faults(sim, _body(req))
    if name == "truth" and args:
        version = req.query.get("version") or sim.options["versions"][-1]
        entity = sim.find_entity(version, args[0])
        if entity is None:
            return json_response(404, {"error": f"no entity {args[0]} in {version}"})
        return rest.truth(
            sim,
            version,
            entity,
            req.query.get("expand", ""),
            req.query.get("custom", "") in ("1", "true", "True"),
            req.query.get("archived", "") in ("1", "true", "True"),
        )
    if name in ("mutate", "delete") and method == "POST":
        body = _body(req)
        version = body.get("version") or sim.options["versions"][-1]
        entity = sim.find_entity(version, body["entity"])
        if entity is None:
            return json_response(404, {"error": f"no entity {body['entity']} in {version}"})
        if name == "delete":
            return json_response(200, sim.delete(entity, int(body.get("count", 1))))
        return json_response(
            200,
            sim.mutate(
                entity,
                int(body.get("update", 0)),
                int(body.get("insert", 0)),
                float(body.get("commit_after_seconds", 0)),
            ),
        )
    if name == "transactions":
        return json_response(200, sim.transactions_view())
    if name == "truth-odata" and args:
        return json_response(200, sim.odata.truth(args[0]))
    if name == "mutate-odata" and method == "POST":
        body = _body(req)
        return json_response(
            200,
            sim.odata.mutate(
                body["inquiry"],
                int(body.get("update", 0)),
                int(body.get("insert", 0)),
                float(body.get("commit_after_seconds", 0)),
            ),
        )
    if name == "dac":
        from .dacroute import control as dac_control

        return dac_control(sim, req, args)
    if name == "entities":
        version = req.query.get("version") or sim.options["versions"][-1]
        c = contract(sim.contract_key(version))
        return json_response(200, {e: c.stamp_field(e) for e in c.top_level})
    return json_response(404, {"error": f"unknown control call {method} {name}"})


def _faults(sim: Simulator, config: dict) -> Response:
    faults = Faults(config)
    with sim.lock:
        sim.faults = faults
        if config.get("expire_sessions"):
            sim.auth.expire_all()
            sim.counters.incr("faults_injected.expire_sessions")
        # Replaces the whole config, so no key means the startup option again.
        sim.odata.set_forbidden(
            config.get("odata_forbidden") or sim.options["odata_forbidden"] or ()
        )
    return json_response(200, {"faults": faults.config})


def counters(sim: Simulator) -> dict:
    with sim.lock:
        sim.auth.purge()
        open_sessions = len(sim.auth.sessions)
        oauth_open = sum(1 for t in sim.auth.tokens.values() if t.session_open)
    data = sim.counters.snapshot()
    data["open_sessions"] = open_sessions
    data["oauth_sessions_open"] = oauth_open
    return data
