"""docker-compose.yml, Dockerfile and .dockerignore: the invariants of the container setup.

No Docker here: the files are parsed (YAML; the Dockerfile by its own simple grammar)
and checked against each other, against the settings classes (the environment variable
names of docs/operations.md) and against the commands the local tests run.
"""

from __future__ import annotations

import fnmatch
import json
import re
import secrets
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings
from sqlalchemy.engine import make_url

from graphql_gateway.config import Settings as GatewaySettings
from service_orders.config import Settings as OrdersSettings
from service_users.config import Settings as UsersSettings
from service_users.init_db import first_admin
from tests.support.procs import ROOT, RunningProcess, free_port

ROOT_DIR = Path(ROOT)
COMPOSE_NAMES = {"api_gateway", "service_users", "service_orders", "postgres"}
BASE_IMAGE = "python:3.12-slim"
# compose service → (package, env prefix, settings, database)
PROCESSES: dict[str, tuple[str, str, type[BaseSettings], str | None]] = {
    "service_users": ("service_users", "USERS_", UsersSettings, "users"),
    "service_orders": ("service_orders", "ORDERS_", OrdersSettings, "orders"),
    "api_gateway": ("graphql_gateway", "GATEWAY_", GatewaySettings, None),
}
SERVICES = ("service_users", "service_orders")
CODE_PACKAGES = {
    "apicore",
    "service_users",
    "service_orders",
    "graphql_gateway",
    "stack",
    "tools",
    "tests",
}
DEPENDENCY_FILES = {"pyproject.toml", "constraints.txt"}


# --------------------------------------------------------------------------- Dockerfile


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def of(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def logical_lines(text: str) -> list[str]:
    """Instructions one per line: continuations joined, comments and blanks dropped."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue  # comments (and parser directives) are dropped, even inside continuations
        if stripped.endswith("\\"):
            current += stripped[:-1].rstrip() + " "
            continue
        current += stripped
        if current.strip():
            lines.append(current.strip())
        current = ""
    assert not current.strip(), f"Dockerfile ends inside a continuation: {current!r}"
    return lines


def parse_dockerfile(text: str) -> dict[str, Stage]:
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical_lines(text):
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", args, re.I)
            assert match, f"unparsed FROM: {line}"
            name = match.group(2) or f"stage{len(stages)}"
            assert name not in stages, f"two stages named {name}"
            current = stages[name] = Stage(name, match.group(1))
            continue
        assert current is not None, f"instruction before any FROM: {line}"
        current.instructions.append((keyword, args))
    return stages


DOCKERFILE_TEXT = (ROOT_DIR / "Dockerfile").read_text(encoding="utf-8")
DOCKERFILE = parse_dockerfile(DOCKERFILE_TEXT)


def chain(name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, base first."""
    stages = [DOCKERFILE[name]]
    while stages[0].base in DOCKERFILE:
        stages.insert(0, DOCKERFILE[stages[0].base])
    return stages


def flattened(name: str) -> list[tuple[str, str]]:
    return [instruction for stage in chain(name) for instruction in stage.instructions]


def exec_form(args: str) -> list[str]:
    """A CMD / HEALTHCHECK CMD argument as argv (the shell form becomes `sh -c`)."""
    if args.startswith("["):
        argv = json.loads(args)
        assert isinstance(argv, list), args
        assert all(isinstance(arg, str) for arg in argv), args
        return argv
    return ["/bin/sh", "-c", args]


def commands(argv: list[str]) -> list[list[str]]:
    """The commands a CMD runs: `sh -c 'a && exec b'` is [a, b]."""
    if len(argv) == 3 and argv[0] in {"sh", "/bin/sh"} and argv[1] == "-c":
        result = []
        for part in argv[2].split("&&"):
            words = shlex.split(part)
            result.append(words[1:] if words[:1] == ["exec"] else words)
        return result
    return [argv]


def env_of(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in instructions:
        if keyword != "ENV":
            continue
        words = shlex.split(args)
        if "=" not in words[0]:  # legacy `ENV KEY value`
            env[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            key, sep, value = word.partition("=")
            assert sep, f"unparsed ENV: {args}"
            env[key] = value
    return env


def copy_sources(args: str) -> tuple[list[str], list[str]]:
    """(flags, sources) of a COPY: the last word is the destination."""
    words = shlex.split(args)
    flags = [word for word in words if word.startswith("--")]
    paths = [word for word in words if not word.startswith("--")]
    return flags, paths[:-1]


def healthcheck_argv(args: str) -> list[str]:
    match = re.search(r"(?:^|\s)CMD\s+(.*)$", args)
    assert match, f"HEALTHCHECK without CMD: {args!r}"
    return exec_form(match.group(1).strip())


def url_in(argv: list[str]) -> str:
    urls = [arg for arg in argv if re.match(r"https?://", arg)]
    assert len(urls) == 1, argv
    return urls[0]


def builder_name() -> str:
    names = [
        stage.name
        for stage in DOCKERFILE.values()
        if any("pip install" in args for args in stage.of("RUN"))
    ]
    assert len(names) == 1, f"expected one stage installing the dependencies, found {names}"
    return names[0]


# --------------------------------------------------------------------------- compose


COMPOSE: dict[str, Any] = yaml.safe_load((ROOT_DIR / "docker-compose.yml").read_text("utf-8"))


def service(name: str) -> dict[str, Any]:
    return COMPOSE["services"][name]


# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, $NAME, and $$ (a dollar).
SUBSTITUTION = re.compile(
    r"\$(?:(?P<dollar>\$)|\{(?P<braced>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>\w+))"
)


def interpolate(value: str, dotenv: dict[str, str]) -> str:
    """A value as compose makes it from a `.env` (nothing else is set: a clean shell)."""

    def replace(match: re.Match[str]) -> str:
        if match["dollar"]:
            return "$"
        name = match["braced"] or match["bare"]
        value, op = dotenv.get(name), match["op"] or ""
        if op.startswith(":") and value == "":
            value = None  # `:-` and `:?` treat empty as unset
        if value is None and op.endswith("?"):
            raise AssertionError(f"${{{name}}} is required: {match['arg']}")
        return value if value is not None else (match["arg"] or "")

    return SUBSTITUTION.sub(replace, value)


def raw_environment(name: str) -> dict[str, str]:
    """A service's `environment` as written in the file (substitutions unexpanded)."""
    env = service(name).get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def environment(name: str, dotenv: dict[str, str] | None = None) -> dict[str, str]:
    """What compose passes: without a `.env` unless one is given."""
    return {key: interpolate(value, dotenv or {}) for key, value in raw_environment(name).items()}


def effective_env(name: str) -> dict[str, str]:
    """What the process sees: the image's ENV, overridden by compose's environment."""
    return {**env_of(flattened(name)), **environment(name)}


def healthcheck_test(name: str) -> list[str]:
    test = service(name).get("healthcheck", {}).get("test")
    assert test, f"{name} has no healthcheck test"
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    return [str(word) for word in test]


_DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def published(name: str) -> list[tuple[str, str]]:
    """(host, container) port pairs of `ports`, with `${VAR:-default}` at its default."""
    pairs = []
    for entry in service(name).get("ports", []):
        if isinstance(entry, dict):
            pairs.append((str(entry.get("published")), str(entry["target"])))
            continue
        parts = _DEFAULTED.sub(r"\2", str(entry)).split("/")[0].split(":")
        pairs.append((parts[-2] if len(parts) > 1 else "", parts[-1]))
    return pairs


def volume_mounts(name: str) -> list[tuple[str, str]]:
    mounts = []
    for entry in service(name).get("volumes", []):
        if isinstance(entry, dict):
            mounts.append((str(entry["source"]), str(entry["target"])))
        else:
            source, target = str(entry).split(":")[:2]
            mounts.append((source, target))
    return mounts


# --------------------------------------------------------------------------- compose tests


def test_compose_has_exactly_the_four_services() -> None:
    """And Redis for shared rate limits, which only `--profile redis` starts."""
    assert set(COMPOSE["services"]) == COMPOSE_NAMES | {"redis"}
    started = {name for name, svc in COMPOSE["services"].items() if not svc.get("profiles")}
    assert started == COMPOSE_NAMES


@pytest.mark.parametrize("name", sorted(COMPOSE_NAMES | {"redis"}))
def test_every_service_restarts_unless_stopped(name: str) -> None:
    assert service(name).get("restart") == "unless-stopped"


def test_postgres_is_17_with_a_healthcheck_and_published_port() -> None:
    postgres = service("postgres")
    assert postgres["image"] == "postgres:17"
    test = healthcheck_test("postgres")
    assert test[0] in {"CMD", "CMD-SHELL"}
    assert "pg_isready" in " ".join(test)
    assert ("5432", "5432") in published("postgres")
    assert "build" not in postgres


def test_postgres_data_is_on_a_named_volume() -> None:
    declared = COMPOSE.get("volumes") or {}
    data_mounts = [
        source
        for source, target in volume_mounts("postgres")
        if target == "/var/lib/postgresql/data"
    ]
    assert len(data_mounts) == 1, volume_mounts("postgres")
    name = data_mounts[0]
    assert not name.startswith((".", "/", "~")), f"{name} is a bind mount, not a named volume"
    assert name in declared, f"volume {name} is not declared at the top level ({declared})"


def test_init_script_creates_one_database_per_service() -> None:
    scripts = [
        (source, target)
        for source, target in volume_mounts("postgres")
        if target.startswith("/docker-entrypoint-initdb.d/")
    ]
    assert len(scripts) == 1, volume_mounts("postgres")
    source, target = scripts[0]
    assert target.endswith((".sql", ".sh")), target
    path = (ROOT_DIR / source).resolve()
    assert path.is_file(), f"{source} does not exist"
    assert path == (ROOT_DIR / "deploy/postgres/init-databases.sql").resolve()
    sql = path.read_text(encoding="utf-8")
    created = set(re.findall(r"CREATE\s+DATABASE\s+\"?(\w+)\"?", sql, re.IGNORECASE))
    assert created == {"users", "orders"}, sql


@pytest.mark.parametrize("name", SERVICES)
def test_services_wait_for_postgres_and_publish_no_port(name: str) -> None:
    svc = service(name)
    assert "ports" not in svc, f"{name} publishes {svc['ports']}"
    depends = svc.get("depends_on")
    assert isinstance(depends, dict), f"{name}: depends_on needs the long form with a condition"
    assert depends == {"postgres": {"condition": "service_healthy"}}
    assert svc.get("healthcheck"), f"{name} has no healthcheck"


def test_gateway_waits_for_both_services_healthy_and_publishes_8000() -> None:
    gateway = service("api_gateway")
    assert gateway.get("depends_on") == {
        "service_users": {"condition": "service_healthy"},
        "service_orders": {"condition": "service_healthy"},
    }
    assert published("api_gateway") == [("8000", effective_env("api_gateway")["GATEWAY_PORT"])]
    assert effective_env("api_gateway")["GATEWAY_PORT"] == "8000"
    assert gateway.get("healthcheck"), "api_gateway has no healthcheck"


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_built_from_the_dockerfile_target_of_the_same_name(name: str) -> None:
    build = service(name).get("build")
    assert isinstance(build, dict), f"{name} is not built from the Dockerfile"
    assert build.get("context") == "."
    assert build.get("dockerfile", "Dockerfile") == "Dockerfile"
    assert build.get("target") == name
    assert name in DOCKERFILE
    assert "image" not in service(name)


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_environment_names_are_the_settings_of_the_process(name: str) -> None:
    _, prefix, settings, _ = PROCESSES[name]
    allowed = {prefix + field.upper() for field in settings.model_fields}
    env = environment(name)
    assert env, f"{name} sets no environment"
    unknown = set(env) - allowed
    assert not unknown, f"{name}: {sorted(unknown)} are no {prefix}* setting ({sorted(allowed)})"
    # Every value is one the settings class accepts.
    values = {key.removeprefix(prefix).lower(): value for key, value in env.items()}
    settings.model_validate(values)


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_processes_listen_on_all_interfaces_in_containers(name: str) -> None:
    _, prefix, _, _ = PROCESSES[name]
    assert effective_env(name).get(f"{prefix}HOST") == "0.0.0.0"


@pytest.mark.parametrize("name", SERVICES)
def test_database_url_points_at_the_compose_postgres(name: str) -> None:
    _, prefix, _, database = PROCESSES[name]
    url = make_url(environment(name)[f"{prefix}DATABASE_URL"])
    assert url.drivername in {"postgresql", "postgresql+psycopg"}
    assert url.host == "postgres"
    assert url.port in {None, 5432}
    assert url.database == database
    pg_env = service("postgres").get("environment") or {}
    assert url.username == pg_env.get("POSTGRES_USER", "postgres")
    assert url.password == pg_env.get("POSTGRES_PASSWORD"), "the password postgres is given"


def test_gateway_reaches_the_services_by_their_compose_names() -> None:
    env = environment("api_gateway")
    for key, target in (
        ("GATEWAY_USERS_URL", "service_users"),
        ("GATEWAY_ORDERS_URL", "service_orders"),
    ):
        parts = urlsplit(env[key])
        assert parts.scheme == "http", env[key]
        assert parts.hostname == target, env[key]
        _, prefix, _, _ = PROCESSES[target]
        assert str(parts.port) == effective_env(target)[f"{prefix}PORT"], env[key]


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_healthchecks_probe_the_port_the_process_listens_on(name: str) -> None:
    _, prefix, _, _ = PROCESSES[name]
    port = effective_env(name)[f"{prefix}PORT"]
    compose_url = urlsplit(url_in(healthcheck_test(name)))
    assert compose_url.hostname in {"127.0.0.1", "localhost"}
    assert str(compose_url.port) == port
    # Readiness (docs/operations.md): 503 while starting, shutting down, or without a database.
    assert compose_url.path == "/readyz"
    # The image's own HEALTHCHECK probes the same.
    image_checks = [args for kw, args in flattened(name) if kw == "HEALTHCHECK"]
    image_url = urlsplit(url_in(healthcheck_argv(image_checks[-1])))
    assert str(image_url.port) == port
    assert image_url.path == compose_url.path
    assert [args for kw, args in flattened(name) if kw == "EXPOSE"][-1].split("/")[0] == port


def test_healthcheck_command_answers_like_docker_expects(users_process: RunningProcess) -> None:
    """`python -m apicore.healthcheck URL`: 0 when the URL answers 200, 1 otherwise."""
    probe = [sys.executable, "-m", "apicore.healthcheck"]
    up = subprocess.run([*probe, f"{users_process.url}/readyz"], cwd=ROOT, timeout=20, check=False)
    assert up.returncode == 0
    down = f"http://127.0.0.1:{free_port()}/health"
    assert subprocess.run([*probe, down], cwd=ROOT, timeout=20, check=False).returncode == 1


# --------------------------------------------------------------------------- Dockerfile tests


def test_every_base_image_is_python_312_slim() -> None:
    external = [stage.base for stage in DOCKERFILE.values() if stage.base not in DOCKERFILE]
    assert external, "no FROM at all"
    assert set(external) == {BASE_IMAGE}, external


def test_dependencies_are_installed_from_constraints_before_any_code() -> None:
    builder = DOCKERFILE[builder_name()]
    kinds = [kw for kw, _ in builder.instructions]
    pip_index = next(
        i
        for i, (kw, args) in enumerate(builder.instructions)
        if kw == "RUN" and "pip install" in args
    )
    pip_run = builder.instructions[pip_index][1]
    install = next(part for part in pip_run.split("&&") if "pip install" in part)
    words = shlex.split(install)
    constraints = [
        words[i + 1] for i, word in enumerate(words[:-1]) if word in {"-c", "--constraint"}
    ]
    assert constraints == ["constraints.txt"], install
    assert not {".", "-e", "--editable"} & set(words), f"the project itself is installed: {install}"
    copies = [args for kw, args in builder.instructions[:pip_index] if kw in {"COPY", "ADD"}]
    assert copies, "nothing copied before pip install"
    copied = {Path(src).name for args in copies for src in copy_sources(args)[1]}
    assert copied == DEPENDENCY_FILES, f"copied before pip install: {copied}"
    assert "COPY" in kinds[:pip_index]
    # And nothing of the code anywhere in the builder.
    later = [args for kw, args in builder.instructions if kw in {"COPY", "ADD"}]
    for args in later:
        assert not set(copy_sources(args)[1]) & CODE_PACKAGES, args


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_final_stages_are_multi_stage_with_code_after_dependencies(name: str) -> None:
    builder = builder_name()
    stages = [stage.name for stage in chain(name)]
    assert builder not in stages, f"{name} is built FROM the builder: {stages}"
    instructions = flattened(name)
    venv_copy = [
        i
        for i, (kw, args) in enumerate(instructions)
        if kw == "COPY" and f"--from={builder}" in copy_sources(args)[0]
    ]
    assert venv_copy, f"{name} copies nothing from {builder}"
    code_copies = [
        i
        for i, (kw, args) in enumerate(instructions)
        if kw in {"COPY", "ADD"} and set(copy_sources(args)[1]) & CODE_PACKAGES
    ]
    assert code_copies, f"{name} copies no code"
    assert max(venv_copy) < min(code_copies), "code is copied before the dependencies"


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_final_stages_run_as_a_non_root_user(name: str) -> None:
    instructions = flattened(name)
    users = [args for kw, args in instructions if kw == "USER"]
    assert users, f"{name} runs as root (no USER)"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, users[-1]
    if not user.isdigit():
        created = [
            args
            for kw, args in instructions
            if kw == "RUN" and re.search(rf"\b(useradd|adduser)\b.*\b{re.escape(user)}\b", args)
        ]
        assert created, f"user {user} is never created"


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_final_stages_have_a_healthcheck(name: str) -> None:
    checks = [args for kw, args in flattened(name) if kw == "HEALTHCHECK"]
    assert checks, f"{name} has no HEALTHCHECK"
    assert checks[-1].strip().upper() != "NONE"
    argv = healthcheck_argv(checks[-1])
    assert argv[:3] == ["python", "-m", "apicore.healthcheck"], argv


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_cmd_is_what_the_local_tests_run(name: str) -> None:
    """Services: `python -m X.init_db` then `python -m X` (what conftest and `make run` do)."""
    package = PROCESSES[name][0]
    cmds = [args for kw, args in flattened(name) if kw == "CMD"]
    assert cmds, f"{name} has no CMD"
    run = commands(exec_form(cmds[-1]))
    if name in SERVICES:
        assert run == [["python", "-m", f"{package}.init_db"], ["python", "-m", package]]
        assert "&&" in exec_form(cmds[-1])[-1], "serving must not start when init_db failed"
        init_db = (ROOT_DIR / package / "init_db.py").read_text(encoding="utf-8")
        assert 'if __name__ == "__main__":' in init_db
    else:
        assert run == [["python", "-m", package]]
    assert (ROOT_DIR / package / "__main__.py").is_file()


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_every_module_the_image_runs_is_copied_into_it(name: str) -> None:
    instructions = flattened(name)
    copied = {
        Path(src).name
        for kw, args in instructions
        if kw in {"COPY", "ADD"} and not copy_sources(args)[0]
        for src in copy_sources(args)[1]
    }
    argvs = commands(exec_form([a for kw, a in instructions if kw == "CMD"][-1]))
    argvs.append(healthcheck_argv([a for kw, a in instructions if kw == "HEALTHCHECK"][-1]))
    argvs.append([str(w) for w in healthcheck_test(name)[1:]])
    for argv in argvs:
        if "-m" in argv:
            module = argv[argv.index("-m") + 1]
            assert module.split(".")[0] in copied, f"{name} runs {module} but does not copy it"


# --------------------------------------------------------------------------- .dockerignore


def dockerignore() -> list[str]:
    text = (ROOT_DIR / ".dockerignore").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_dockerignore_excludes_git_venv_and_data() -> None:
    patterns = {pattern.rstrip("/").removeprefix("/") for pattern in dockerignore()}
    assert {".git", ".venv", ".data"} <= patterns, patterns


def test_dockerignore_keeps_what_the_dockerfile_copies() -> None:
    patterns = [p.rstrip("/").removeprefix("/") for p in dockerignore() if not p.startswith("!")]
    sources = {
        src.rstrip("/").removeprefix("./")
        for stage in DOCKERFILE.values()
        for kw, args in stage.instructions
        if kw in {"COPY", "ADD"} and not any(f.startswith("--from") for f in copy_sources(args)[0])
        for src in copy_sources(args)[1]
    }
    assert sources >= DEPENDENCY_FILES | {"apicore"}
    for source in sources:
        assert (ROOT_DIR / source).exists(), f"the Dockerfile copies {source}, which is missing"
        excluded = [p for p in patterns if fnmatch.fnmatch(source, p)]
        assert not excluded, f"{source} is copied but .dockerignore excludes it ({excluded})"


# --------------------------------------------------------------------------- authentication

# What compose passes to the gateway and to the users service, and the default of each
# without a `.env`: everything off, as before authentication existed.
GATEWAY_AUTH_VARIABLES = {
    "GATEWAY_AUTH": "off",
    "GATEWAY_JWT_SECRET": "",
    "GATEWAY_JWT_TTL": "300",
    "GATEWAY_LOGIN_RATE_LIMIT": "10/minute",
    "GATEWAY_RATE_LIMIT": "",
    "GATEWAY_REDIS_URL": "",
    "GATEWAY_CORS_ORIGINS": "",
}
ADMIN_VARIABLES = {"USERS_ADMIN_EMAIL": "", "USERS_ADMIN_PASSWORD": ""}
SECRET_VARIABLES = ("GATEWAY_JWT_SECRET", "USERS_ADMIN_PASSWORD")
ENV_EXAMPLE = ROOT_DIR / ".env.example"


def dotenv_file(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines as compose reads a `.env` (comments and blanks skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        assert key not in values, f"{path.name}: {key} twice"
        values[key.strip()] = value.strip()
    return values


def substituted_names() -> set[str]:
    text = (ROOT_DIR / "docker-compose.yml").read_text("utf-8")
    return {match["braced"] or match["bare"] for match in SUBSTITUTION.finditer(text)} - {None}


def gateway_settings(dotenv: dict[str, str] | None = None) -> GatewaySettings:
    env = environment("api_gateway", dotenv)
    return GatewaySettings.model_validate(
        {key.removeprefix("GATEWAY_").lower(): value for key, value in env.items()}
    )


def users_settings(dotenv: dict[str, str] | None = None) -> UsersSettings:
    env = environment("service_users", dotenv)
    return UsersSettings.model_validate(
        {key.removeprefix("USERS_").lower(): value for key, value in env.items()}
    )


@pytest.mark.parametrize(
    ("name", "variables"),
    [("api_gateway", GATEWAY_AUTH_VARIABLES), ("service_users", ADMIN_VARIABLES)],
)
def test_auth_settings_are_passed_through_from_the_dotenv(
    name: str, variables: dict[str, str]
) -> None:
    raw = raw_environment(name)
    for variable, default in variables.items():
        assert variable in raw, f"{name} is not given {variable}"
        match = SUBSTITUTION.fullmatch(raw[variable])
        assert match, f"{variable}: {raw[variable]!r} is not a substitution"
        assert match["braced"] == variable, f"{variable} is taken from {match['braced']}"
        assert environment(name)[variable] == default, f"{variable}'s default"
        assert environment(name, {variable: "from-dotenv"})[variable] == "from-dotenv"


def test_without_a_dotenv_auth_and_limits_are_off_as_before() -> None:
    settings = gateway_settings()
    assert not settings.auth_enabled
    assert settings.rate_limit is None
    assert settings.redis_url is None
    assert settings.cors_origin_list == []
    for field_name in ("jwt_ttl", "login_rate_limit"):
        assert getattr(settings, field_name) == GatewaySettings.model_fields[field_name].default
    # The users service starts as before: no administrator asked for.
    assert first_admin(users_settings()) is None


def test_a_dotenv_turns_auth_on() -> None:
    dotenv = {
        "GATEWAY_AUTH": "on",
        "GATEWAY_JWT_SECRET": secrets.token_urlsafe(48),
        "GATEWAY_REDIS_URL": "redis://redis:6379/0",
        "USERS_ADMIN_EMAIL": "admin@example.com",
        "USERS_ADMIN_PASSWORD": secrets.token_urlsafe(12),
    }
    settings = gateway_settings(dotenv)
    assert settings.auth_enabled
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == dotenv["GATEWAY_JWT_SECRET"]
    assert urlsplit(settings.redis_url or "").hostname == "redis"
    admin = first_admin(users_settings(dotenv))
    assert admin is not None
    assert admin.email == "admin@example.com"
    # Forgetting the secret: the gateway refuses to start (one line, in its log).
    with pytest.raises(ValidationError, match="GATEWAY_JWT_SECRET"):
        gateway_settings({**dotenv, "GATEWAY_JWT_SECRET": ""})


def test_no_secret_is_written_in_the_compose_file() -> None:
    for name in PROCESSES:
        for key, value in raw_environment(name).items():
            if any(word in key for word in ("SECRET", "PASSWORD", "TOKEN", "KEY")):
                match = SUBSTITUTION.fullmatch(value)
                assert match, f"{name}: {key} is written in the file"
                assert match["braced"] == key, value
                assert not match["arg"], f"{name}: {key} has a default secret: {value}"
    text = (ROOT_DIR / "docker-compose.yml").read_text("utf-8")
    assert not re.search(r"eyJ[\w-]{8,}", text), "a JWT in docker-compose.yml"
    assert not re.search(r"[\w-]{32,}", text), "a long random-looking token in docker-compose.yml"


def test_env_example_has_every_setting_and_no_secret() -> None:
    example = dotenv_file(ENV_EXAMPLE)
    publish = {"GATEWAY_PUBLISH", "POSTGRES_PUBLISH"}  # where compose publishes the ports
    assert set(example) == set(GATEWAY_AUTH_VARIABLES) | set(ADMIN_VARIABLES) | publish
    assert set(example) == substituted_names(), "compose and .env.example name other variables"
    for name in SECRET_VARIABLES:
        assert example[name] == "", f".env.example gives {name} a value"
    assert "secrets.token_urlsafe(48)" in ENV_EXAMPLE.read_text(encoding="utf-8")
    # Copied to `.env` as it is, it changes nothing.
    for name in ("api_gateway", "service_users"):
        assert environment(name, example) == environment(name)


def test_dotenv_is_ignored_by_git_and_docker() -> None:
    def ignored(path: str) -> int:
        return subprocess.run(
            ["git", "check-ignore", "--quiet", "--no-index", path], cwd=ROOT, check=False
        ).returncode

    if ignored(".gitignore") == 128:
        pytest.skip("not a git checkout")
    assert ignored(".env") == 0, ".env is not git-ignored"
    assert ignored(".env.example") == 1, ".env.example is git-ignored"
    assert any(fnmatch.fnmatch(".env", p.removeprefix("/")) for p in dockerignore()), dockerignore()


def test_redis_is_optional_and_nothing_waits_for_it() -> None:
    redis = service("redis")
    assert redis["image"] == "redis:7"
    assert redis.get("profiles") == ["redis"], "redis would start by default"
    assert "ports" not in redis, "redis is published"
    assert "redis" not in (service("api_gateway").get("depends_on") or {})
    assert "redis-cli" in " ".join(healthcheck_test("redis"))


def test_the_dockerfile_needs_no_frontend_image() -> None:
    """No `# syntax=` line: BuildKit would pull that frontend from a registry first, which
    fails on a machine with its base images at hand and no registry (make compose-smoke)."""
    assert not re.search(r"^#\s*syntax\s*=", DOCKERFILE_TEXT, re.MULTILINE | re.IGNORECASE)


def test_the_smoke_moves_the_published_ports() -> None:
    """`make compose-smoke` publishes on 127.0.0.1 and ports of its own: the variables
    exist, and without them the ports are docs/deployment.md's."""
    raw = {name: service(name)["ports"] for name in ("postgres", "api_gateway")}
    assert raw == {
        "postgres": ["${POSTGRES_PUBLISH:-5432}:5432"],
        "api_gateway": ["${GATEWAY_PUBLISH:-8000}:8000"],
    }
