"""`sipctl`: the provisioner from a shell (CONTRACT.md section 10).

Exit status: 0 success, 1 refused (a 4xx problem, a failed validation, a declined delete),
2 usage or configuration error, 3 failed (a 5xx problem, a transient one after the retries,
the API unreachable, an execution that failed or had failed items).
"""

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from sipctl.client import DEFAULT_TIMEOUT_SECONDS, JSON, Client, ConfigurationMissing, ServiceUnreachable
from sipctl.problems import ProblemError
from sipctl.workflows import IMPORTS_BUCKET_OUTPUT, STATE_MACHINE_OUTPUTS, Ended, Progress, Workflows

OK, REFUSED, USAGE, FAILED = 0, 1, 2, 3
INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT
URL_VARIABLE = "SIPCTL_URL"
PASSWORD_DELIVERIES = ("response", "secrets_manager")
STATUSES = ("active", "disabled", "deleted")
CLEARABLE = ("profile", "caller_id", "send_as", "handler", "owner")
BULK_REJECTED = "BulkValidationFailed"  # its report, beside the source, lists every bad line
# Execution errors that mean the input was refused, not that something broke.
REFUSED_ERRORS = frozenset({"ValidationError", BULK_REJECTED})


class UsageError(Exception):
    """A command line that cannot be run as given (exit 2)."""


class Refused(Exception):
    """The operator declined, or a workflow refused its input (exit 1)."""


class Failed(Exception):
    """A workflow that failed (exit 3)."""


# -- the command line -------------------------------------------------------------------------------


def _add_common(parser: argparse.ArgumentParser, *, after_command: bool) -> None:
    """The options every command takes, before or after its name (as the AWS CLI allows): after
    it, an option not given leaves what was given before it."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if after_command else value

    group = parser.add_argument_group("common options")
    group.add_argument("--url", default=default(None), help=f"the API's base URL (default: ${URL_VARIABLE})")
    group.add_argument("--region", default=default(None), help="AWS region (default: the usual AWS settings)")
    group.add_argument("--json", action="store_true", default=default(False), help="print the API's JSON body")
    group.add_argument(
        "--timeout",
        type=float,
        default=default(DEFAULT_TIMEOUT_SECONDS),
        help="seconds to keep retrying (default 60)",
    )


def _add_key(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--idempotency-key", help="the Idempotency-Key to send (default: a new UUID)")


def _add_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile")
    parser.add_argument("--owner")
    parser.add_argument("--caller-id")
    parser.add_argument("--send-as", help="an E.164 number or random")
    parser.add_argument("--handler-type", help="laml_webhooks, relay_context, ... (CONTRACT.md section 1)")
    parser.add_argument(
        "--handler", action="append", default=[], metavar="KEY=VALUE", help="a key of the handler (repeatable)"
    )


def _add_state_machine(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("state machine")
    where = group.add_mutually_exclusive_group()
    where.add_argument("--stack", help="the stack whose outputs name the state machine")
    where.add_argument("--state-machine-arn")
    group.add_argument("--endpoint-url", help="AWS endpoint for Step Functions and S3 (make run's moto URL)")
    group.add_argument("--wait", action="store_true", help="show progress until it ends, then the summary")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="sipctl", description="Provision SignalWire SIP endpoints through the provisioner's API."
    )
    main.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _add_common(main, after_command=False)
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _add_common(sub, after_command=True)
        return sub

    command("profiles", "list the profiles you may use")

    create = command("create", "create a SIP endpoint")
    create.add_argument("username")
    _add_fields(create)
    create.add_argument("--password-delivery", choices=PASSWORD_DELIVERIES)
    create.add_argument("--dry-run", action="store_true", help="show the payload; create nothing")
    _add_key(create)

    show = command("show", "show an endpoint, its record and its drift")
    show.add_argument("username")

    listing = command("list", "list the inventory (one page unless --all)")
    listing.add_argument("--profile")
    listing.add_argument("--owner")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument(
        "--unmanaged", action="store_true", help="endpoints SignalWire holds and the inventory does not"
    )
    listing.add_argument("--limit", type=int, help="page size, 1 to 100")
    listing.add_argument("--all", action="store_true", help="follow every cursor")

    update = command("update", "change a managed endpoint (no field: re-apply its profile)")
    update.add_argument("username")
    _add_fields(update)
    update.add_argument("--clear", action="append", default=[], metavar="FIELD", help=f"one of {', '.join(CLEARABLE)}")
    update.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")
    _add_key(update)

    reset = command("reset-password", "give an endpoint a new generated password (enables a disabled one)")
    reset.add_argument("username")
    reset.add_argument("--password-delivery", choices=PASSWORD_DELIVERIES)
    _add_key(reset)

    disable = command("disable", "disable an endpoint: no device can register until a reset")
    disable.add_argument("username")
    _add_key(disable)

    delete = command("delete", "delete an endpoint (asks first unless --yes)")
    delete.add_argument("username")
    delete.add_argument("--yes", action="store_true", help="do not ask")
    delete.add_argument("--dry-run", action="store_true", help="show what would be deleted")
    _add_key(delete)

    adopt = command("adopt", "manage an endpoint made outside the service")
    adopt.add_argument("username")
    adopt.add_argument("--profile", required=True)
    adopt.add_argument("--owner")
    adopt.add_argument("--dry-run", action="store_true", help="show the record it would get")
    _add_key(adopt)

    bulk = command("bulk", "upload a CSV and start bulk onboarding")
    bulk.add_argument("file", type=Path, metavar="FILE.csv")
    bulk.add_argument("--bucket", help="the imports bucket (default: the stack's ImportsBucketName)")
    bulk.add_argument("--max-concurrency", type=int)
    _add_state_machine(bulk)

    rollout = command("rollout", "re-apply a profile to its drifted endpoints")
    rollout.add_argument("profile_name", metavar="PROFILE")
    rollout.add_argument("--dry-run", action="store_true", help="report what would change")
    rollout.add_argument("--max-concurrency", type=int)
    _add_state_machine(rollout)

    audit = command("audit", "audit the fleet: drifted, missing and unmanaged endpoints")
    audit.add_argument("--profile", help="only this profile's endpoints")
    _add_state_machine(audit)

    offboard = command("offboard", "disable an endpoint now, delete it after a grace period")
    offboard.add_argument("username")
    offboard.add_argument("--grace", type=int, metavar="SECONDS", help="0 to 2592000 (default: a week)")
    _add_state_machine(offboard)
    return main


def _version() -> str:
    try:
        return version("sipctl")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


# -- output -------------------------------------------------------------------------------------------


def table(rows: Iterable[Sequence[object]], headings: Sequence[str]) -> str:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(heading), *(len(row[index]) for row in cells)]) for index, heading in enumerate(headings)]
    lines = [[heading.upper() for heading in headings], *cells]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def fields(pairs: Iterable[tuple[str, object]]) -> str:
    listed = [(name, _cell(value)) for name, value in pairs]
    width = max((len(name) for name, _ in listed), default=0)
    return "\n".join(f"{name + ':':<{width + 1}} {value}" for name, value in listed)


def describe_problem(problem: ProblemError) -> str:
    """One line, `<status> <type>: <detail>`, then each field error."""
    lines = [str(problem)]
    lines += [f"  {error.field}: {error.message}" for error in problem.errors]
    return "\n".join(lines)


def _password_lines(answer: JSON) -> list[str]:
    if answer.get("password"):
        return [f"Password: {answer['password']}"]
    if answer.get("password_secret_arn"):
        return [f"Password in Secrets Manager: {answer['password_secret_arn']}"]
    return []


def _drift_table(drift: Sequence[JSON]) -> str:
    return table(([item["field"], item["expected"], item["actual"]] for item in drift), ["field", "expected", "actual"])


def _changes_table(changes: Sequence[JSON]) -> str:
    return table(([item["field"], item["from"], item["to"]] for item in changes), ["field", "from", "to"])


def _record_fields(record: Mapping[str, Any] | None) -> list[tuple[str, object]]:
    if not record:
        return []
    names = ("profile", "owner", "status", "created_by", "created_via", "created_at", "updated_at")
    return [(name, record.get(name)) for name in names if name in record]


# -- the commands ---------------------------------------------------------------------------------------


def _handler(arguments: argparse.Namespace) -> dict[str, str] | None:
    if arguments.handler and not arguments.handler_type:
        raise UsageError("--handler needs --handler-type")
    if not arguments.handler_type:
        return None
    handler = {"type": arguments.handler_type}
    for pair in arguments.handler:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise UsageError(f"--handler takes KEY=VALUE, not {pair!r}")
        handler[key] = value
    return handler


def _changes(arguments: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in ("profile", "owner", "caller_id", "send_as"):
        if getattr(arguments, name) is not None:
            changes[name] = getattr(arguments, name)
    if (handler := _handler(arguments)) is not None:
        changes["handler"] = handler
    for name in arguments.clear:
        field = name.replace("-", "_")
        if field not in CLEARABLE:
            raise UsageError(f"--clear takes one of {', '.join(CLEARABLE)}, not {name!r}")
        if field in changes:
            raise UsageError(f"--clear {name} and a new {name} together")
        changes[field] = None
    return changes


def run_profiles(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    profiles = client.profiles()
    if arguments.json:
        _print_json({"profiles": profiles}, out)
    else:
        rows = ([profile["name"], profile.get("call_handler"), profile.get("description")] for profile in profiles)
        print(table(rows, ["name", "handler", "description"]), file=out)
    return OK


def run_create(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    answer = client.create(
        arguments.username,
        profile=arguments.profile,
        owner=arguments.owner,
        caller_id=arguments.caller_id,
        send_as=arguments.send_as,
        handler=_handler(arguments),
        password_delivery=arguments.password_delivery,
        dry_run=arguments.dry_run,
        idempotency_key=arguments.idempotency_key,
    )
    if arguments.json:
        _print_json(answer, out)
    elif arguments.dry_run:
        print(f"Dry run: would create {answer['sip_uri']} (profile {answer['profile']}) with:", file=out)
        print(fields(sorted(answer["payload"].items())), file=out)
    else:
        print(f"Created {answer['sip_uri']} (profile {answer['profile']})", file=out)
        print("\n".join(_password_lines(answer)), file=out)
    return OK


def run_show(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    answer = client.show(arguments.username)
    if arguments.json:
        _print_json(answer, out)
        return OK
    endpoint = answer["endpoint"]
    pairs: list[tuple[str, object]] = [
        ("username", endpoint.get("username")),
        ("sip_uri", answer.get("sip_uri")),
        ("id", endpoint.get("id")),
        ("call_handler", endpoint.get("call_handler")),
        ("caller_id", endpoint.get("caller_id")),
        ("send_as", endpoint.get("send_as")),
        ("managed", answer.get("managed")),
        *_record_fields(answer.get("record")),
    ]
    print(fields(pairs), file=out)
    drift = answer.get("drift") or []
    print(f"\nDrift from its profile:\n{_drift_table(drift)}" if drift else "\nNo drift from its profile.", file=out)
    return OK


def run_list(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    filters: dict[str, Any] = {
        "profile": arguments.profile,
        "owner": arguments.owner,
        "status": arguments.status,
        "unmanaged": arguments.unmanaged,
        "limit": arguments.limit,
    }
    if arguments.all:
        page: JSON = {"endpoints": list(client.list(**filters)), "next_cursor": None}
    else:
        page = client.list_page(**filters)
    if arguments.json:
        _print_json(page, out)
        return OK
    endpoints = page["endpoints"]
    if arguments.unmanaged:
        rows = ([item["username"], item.get("id"), item.get("call_handler")] for item in endpoints)
        print(table(rows, ["username", "id", "call_handler"]), file=out)
    else:
        columns = ["username", "profile", "owner", "status", "created_by", "created_at"]
        print(table(([item.get(name) for name in columns] for item in endpoints), columns), file=out)
    if page.get("next_cursor"):
        print("(more endpoints: --all lists every page)", file=sys.stderr)
    return OK


def run_update(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    answer = client.update(
        arguments.username, _changes(arguments), dry_run=arguments.dry_run, idempotency_key=arguments.idempotency_key
    )
    if arguments.json:
        _print_json(answer, out)
    elif arguments.dry_run:
        changes = answer.get("changes") or []
        print(
            f"Dry run: would change\n{_changes_table(changes)}" if changes else "Dry run: nothing would change",
            file=out,
        )
    else:
        changed = answer.get("changed") or []
        summary = f"changed {', '.join(changed)}" if changed else "nothing changed"
        print(f"Updated {answer['sip_uri']} (profile {answer['profile']}): {summary}", file=out)
    return OK


def run_reset_password(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    answer = client.reset_password(
        arguments.username, password_delivery=arguments.password_delivery, idempotency_key=arguments.idempotency_key
    )
    if arguments.json:
        _print_json(answer, out)
    else:
        print("\n".join([f"New password for {answer['sip_uri']}", *_password_lines(answer)]), file=out)
    return OK


def run_disable(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    answer = client.disable(arguments.username, idempotency_key=arguments.idempotency_key)
    if arguments.json:
        _print_json(answer, out)
    else:
        print(f"Disabled {answer['username']}: no device can register until a password reset", file=out)
    return OK


def run_delete(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    if arguments.dry_run or not arguments.yes:
        preview = client.delete(arguments.username, dry_run=True)
        assert preview is not None
        if arguments.json and arguments.dry_run:
            _print_json(preview, out)
        else:
            record = preview["would_delete"]
            print(f"Would delete {arguments.username}:\n{fields(_record_fields(record))}", file=sys.stderr)
        if arguments.dry_run:
            return OK
        if not sys.stdin.isatty():
            raise UsageError(f"not deleting {arguments.username}: no terminal to ask on; add --yes")
        answer = input(f"Delete {arguments.username}? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            raise Refused(f"{arguments.username} not deleted")
    client.delete(arguments.username, idempotency_key=arguments.idempotency_key)
    if arguments.json:
        _print_json({"username": arguments.username, "status": "deleted"}, out)
    else:
        print(f"Deleted {arguments.username}", file=out)
    return OK


def run_adopt(client: Client, arguments: argparse.Namespace, out: TextIO) -> int:
    answer = client.adopt(
        arguments.username,
        profile=arguments.profile,
        owner=arguments.owner,
        dry_run=arguments.dry_run,
        idempotency_key=arguments.idempotency_key,
    )
    if arguments.json:
        _print_json(answer, out)
        return OK
    drift = answer.get("drift") or []
    if arguments.dry_run:
        print(
            f"Dry run: would adopt {arguments.username} as\n{fields(_record_fields(answer['would_adopt']))}", file=out
        )
    else:
        print(f"Adopted {answer['sip_uri']} (profile {answer['record']['profile']})", file=out)
    print(f"\nDrift from its profile:\n{_drift_table(drift)}" if drift else "\nNo drift from its profile.", file=out)
    return OK


HTTP_COMMANDS: dict[str, Callable[[Client, argparse.Namespace, TextIO], int]] = {
    "profiles": run_profiles,
    "create": run_create,
    "show": run_show,
    "list": run_list,
    "update": run_update,
    "reset-password": run_reset_password,
    "disable": run_disable,
    "delete": run_delete,
    "adopt": run_adopt,
}


# -- the state machines -----------------------------------------------------------------------------------


def execution_name(command: str) -> str:
    return f"sipctl-{command}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def run_workflow(arguments: argparse.Namespace, out: TextIO) -> int:
    workflows = Workflows(region=arguments.region, endpoint_url=arguments.endpoint_url)
    outputs = workflows.stack_outputs(arguments.stack) if arguments.stack else {}
    state_machine_arn = arguments.state_machine_arn or outputs.get(STATE_MACHINE_OUTPUTS[arguments.command])
    if not state_machine_arn:
        raise UsageError(f"which state machine? give --stack NAME or --state-machine-arn for {arguments.command}")
    name = execution_name(arguments.command)
    execution_input: dict[str, Any]
    report: str | None = None
    if arguments.command == "bulk":
        bucket = arguments.bucket or outputs.get(IMPORTS_BUCKET_OUTPUT)
        if not bucket:
            raise UsageError("bulk needs --bucket (or --stack, whose ImportsBucketName it uses)")
        if not arguments.file.is_file():
            raise UsageError(f"{arguments.file} is not a file")
        key = f"bulk/{name}/{arguments.file.name}"
        workflows.upload(arguments.file, bucket, key)
        print(f"Uploaded s3://{bucket}/{key}", file=sys.stderr)
        execution_input = {"source": {"bucket": bucket, "key": key}}
        report = f"s3://{bucket}/{key}.report.json"
    elif arguments.command == "rollout":
        execution_input = {"profile": arguments.profile_name, "dry_run": arguments.dry_run}
    elif arguments.command == "audit":
        execution_input = {"profile": arguments.profile} if arguments.profile else {}
    else:
        execution_input = {"sip_endpoint": {"username": arguments.username}}
        if arguments.grace is not None:
            execution_input["grace_period_seconds"] = arguments.grace
    if getattr(arguments, "max_concurrency", None) is not None:
        execution_input["max_concurrency"] = arguments.max_concurrency
    execution_arn = workflows.start(state_machine_arn, name, execution_input)
    if not arguments.wait:
        if arguments.json:
            _print_json({"executionArn": execution_arn, "input": execution_input}, out)
        else:
            print(f"Started {execution_arn}", file=out)
        return OK
    print(f"Started {execution_arn}", file=sys.stderr)
    progress = ProgressLine(sys.stderr)
    try:
        ended = workflows.wait(execution_arn, progress)
    except KeyboardInterrupt:
        print(f"\nStopped watching; the execution goes on: {execution_arn}", file=sys.stderr)
        raise
    progress.end()
    return _report_end(ended, report, arguments.json, out)


class ProgressLine:
    """Progress on stderr: rewritten in place on a terminal, a new line only when it changes otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._last = ""

    def __call__(self, progress: Progress) -> None:
        line = progress.describe()
        if self._stream.isatty():
            self._stream.write(f"\r\033[K{line}")
        elif line != self._last:
            self._stream.write(f"{line}\n")
        self._stream.flush()
        self._last = line

    def end(self) -> None:
        if self._last and self._stream.isatty():
            self._stream.write("\n")


def _readable_cause(cause: str | None) -> str:
    """A Lambda task's cause is its error document (message, type, stack trace): only the message."""
    try:
        document = json.loads(cause or "")
    except ValueError:
        return cause or ""
    return str(document.get("errorMessage", cause)) if isinstance(document, dict) else cause or ""


def _report_end(ended: Ended, report: str | None, as_json: bool, out: TextIO) -> int:
    if ended.status == "SUCCEEDED":
        output = ended.output if isinstance(ended.output, dict) else {}
        if as_json:
            _print_json(output, out)
        else:
            counts = [f"{name} {value}" for name, value in output.items() if not isinstance(value, (dict, list))]
            print(f"Succeeded: {', '.join(counts)}", file=out)
            if isinstance(location := output.get("report"), dict):
                print(f"Report: s3://{location['bucket']}/{location['key']}", file=out)
        return FAILED if output.get("failed") else OK
    message = f"{ended.status}: {ended.error or 'no error named'}: {_readable_cause(ended.cause)}".rstrip(": ")
    if report is not None and ended.error == BULK_REJECTED:
        message += f"\nReport: {report}"
    if ended.error in REFUSED_ERRORS:
        raise Refused(message)
    raise Failed(message)


# -- main ---------------------------------------------------------------------------------------------------


def _print_json(document: object, out: TextIO) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False), file=out)


def _print_retry(error: Exception, seconds: float) -> None:
    print(f"{error} (retrying in {seconds:g} s)", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    out = sys.stdout
    try:
        if arguments.command in STATE_MACHINE_OUTPUTS:
            return run_workflow(arguments, out)
        url = arguments.url or os.environ.get(URL_VARIABLE)
        if not url:
            raise UsageError(f"no API URL: give --url or set {URL_VARIABLE}")
        client = Client(url, region=arguments.region, timeout=arguments.timeout, on_retry=_print_retry)
        return HTTP_COMMANDS[arguments.command](client, arguments, out)
    except ProblemError as problem:
        if arguments.json and problem.document:
            _print_json(problem.document, out)
        print(describe_problem(problem), file=sys.stderr)
        return REFUSED if problem.is_refusal else FAILED
    except (UsageError, ConfigurationMissing, NoCredentialsError) as error:
        print(f"sipctl: {error}", file=sys.stderr)
        return USAGE
    except Refused as refusal:
        print(refusal, file=sys.stderr)
        return REFUSED
    except (Failed, ServiceUnreachable) as failure:
        print(failure, file=sys.stderr)
        return FAILED
    except ClientError as error:  # Step Functions, S3 or CloudFormation refused
        print(f"AWS: {error}", file=sys.stderr)
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
        return REFUSED if 400 <= status < 500 else FAILED
    except BotoCoreError as error:
        print(f"AWS: {error}", file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
