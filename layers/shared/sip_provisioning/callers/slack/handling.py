"""The Slack slash command's two halves: the request from Slack, answered within 3 seconds, and
the job it hands to an asynchronous invocation of the same function (the entry's docstring,
`functions/slack_command/slack_command.py`, tells the whole story)."""

import binascii
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sip_provisioning.callers.gateway import GatewayRequest
from sip_provisioning.callers.invocation import Invocation
from sip_provisioning.callers.problems import PROBLEM_CONTENT_TYPE, problem_for, problem_type_of
from sip_provisioning.callers.slack.commands import (
    AdoptCommand,
    CommandNotUnderstood,
    CreateCommand,
    DeleteCommand,
    DisableCommand,
    HelpCommand,
    JobCommand,
    ProfilesCommand,
    ResetPasswordCommand,
    ShowCommand,
    parse_command,
)
from sip_provisioning.callers.slack.delivery import DeliveryFailed, is_allowed_response_url, post_to_response_url
from sip_provisioning.callers.slack.messages import (
    SlackMessage,
    adopted_message,
    created_message,
    delete_preview_message,
    deleted_message,
    disabled_message,
    endpoint_message,
    password_reset_message,
    problem_message,
    profiles_message,
    response_url_refused_message,
    usage_message,
    working_message,
)
from sip_provisioning.callers.slack.payloads import (
    CommandJob,
    MalformedSlashCommand,
    SlashCommandPayload,
    is_ssl_check,
)
from sip_provisioning.callers.slack.signature import SignatureRejected, verify_slack_signature
from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.answers import Problem
from sip_provisioning.domain.errors import ConfigurationError, Forbidden, MalformedRequest, Unauthenticated
from sip_provisioning.domain.profile import SLACK_ALLOWED_TEAM_IDS, SLACK_SIGNING_SECRET, SlackSettings
from sip_provisioning.domain.records import CreatedVia
from sip_provisioning.domain.request import PasswordResetRequest
from sip_provisioning.observability import count_by, logger, record_failure
from sip_provisioning.settings import RuntimeSettings
from sip_provisioning.use_cases import create
from sip_provisioning.use_cases.adopt import adopt_endpoint_once
from sip_provisioning.use_cases.delete import delete_endpoint_once, preview_delete
from sip_provisioning.use_cases.disable import disable_endpoint_once
from sip_provisioning.use_cases.list_profiles import list_profiles
from sip_provisioning.use_cases.look_up import look_up_endpoint
from sip_provisioning.use_cases.ports import Caller, Ports
from sip_provisioning.use_cases.reset_password import reset_password_once

# Of a job's time, what posting the answer (with its retries) may take after the command's work.
DELIVERY_SECONDS = 6.0
JSON = "application/json"


@dataclass(frozen=True)
class SlackEdge:
    """What the command reaches beyond its event. The ports and settings are read when first
    needed, so a function that cannot compose still answers Slack's ssl_check, and refuses."""

    context: LambdaContext
    ports: Callable[[], Ports]
    settings: Callable[[], RuntimeSettings]
    # Starts the job: an asynchronous invocation of this same function.
    hand_off: Callable[[CommandJob], None]


# -- the request from Slack: answered within 3 seconds ------------------------------------------


def answer_slack_request(request: GatewayRequest, edge: SlackEdge) -> dict[str, Any]:
    request_id = request.request_id
    logger.set_correlation_id(request_id)
    try:
        raw_body = request.body_bytes()  # exactly as Slack signed them
    except binascii.Error:
        return _refusal(MalformedRequest("The body is not readable base64."), request_id)
    if is_ssl_check(raw_body):
        # Slack checking the URL's certificate. Like Bolt, answered before any other check: the
        # empty 200 says nothing and does nothing, whoever asks.
        logger.info("Slack ssl_check answered")
        return {"statusCode": 200, "headers": {"Content-Type": "text/plain; charset=utf-8"}, "body": ""}
    try:
        slack = _slack_settings(edge)
    except ConfigurationError as error:
        logger.error("The Slack command cannot check requests", extra={"detail": str(error)})
        return _refusal(error, request_id)
    headers = request.headers
    try:
        verify_slack_signature(
            slack.signing_secret,
            headers.get("x-slack-request-timestamp"),
            headers.get("x-slack-signature"),
            raw_body,
            now=time.time(),
        )
    except SignatureRejected as rejected:
        _count_refusal("signature")
        logger.warning("Slack request refused: not signed by Slack", extra={"reason": str(rejected)})
        return _refusal(
            Unauthenticated("The request is not signed by Slack with this service's signing secret."), request_id
        )
    try:
        payload = SlashCommandPayload.from_form(raw_body)
    except MalformedSlashCommand as malformed:
        logger.warning("Signed request refused: not a slash command", extra={"reason": str(malformed)})
        return _refusal(MalformedRequest(str(malformed)), request_id)
    logger.append_keys(slack_team=payload.team_id, slack_user=payload.user_id, caller=payload.caller)
    if payload.team_id not in slack.allowed_team_ids:
        _count_refusal("team")
        logger.warning("Slack request refused: the workspace is not allowed")
        not_allowed = Forbidden(
            SLACK_ALLOWED_TEAM_IDS,
            f"Forbidden by {SLACK_ALLOWED_TEAM_IDS}: this Slack workspace may not use this command.",
        )
        return _refusal(not_allowed, request_id)
    message = _answer_command(payload, edge)
    return {"statusCode": 200, "headers": {"Content-Type": JSON}, "body": message.to_json()}


def _slack_settings(edge: SlackEdge) -> SlackSettings:
    slack = edge.ports().config.load().slack
    if slack is None:
        raise ConfigurationError(f"{edge.settings().parameters_path}/{SLACK_SIGNING_SECRET}", "is missing")
    return slack


def _slack_caller(payload: SlashCommandPayload) -> Caller:
    return Caller(identity=payload.caller, via=CreatedVia.SLACK)


def _answer_command(payload: SlashCommandPayload, edge: SlackEdge) -> SlackMessage:
    try:
        command = parse_command(payload.text)
    except CommandNotUnderstood as not_understood:
        return usage_message(payload.command, str(not_understood))
    try:
        match command:
            case HelpCommand():
                return usage_message(payload.command)
            case ProfilesCommand():
                return profiles_message(list_profiles(edge.ports(), _slack_caller(payload)), payload.command)
            case _:
                return _start_job(payload, command, edge)
    except Exception as error:
        return _problem(error, edge.context, payload.command)


def _start_job(payload: SlashCommandPayload, command: JobCommand, edge: SlackEdge) -> SlackMessage:
    """Check what can be checked without SignalWire and without changing anything, then hand the
    command to a job."""
    if isinstance(command, CreateCommand):
        create.preview_endpoint(edge.ports(), _slack_caller(payload), command.to_endpoint_request())
    else:
        command.checked_username()
    if isinstance(command, AdoptCommand):
        command.to_adopt_request()
    if not is_allowed_response_url(payload.response_url, edge.settings().slack_response_url_prefixes):
        logger.error("Command not started: the response_url is not under an allowed prefix")
        return response_url_refused_message()
    job = CommandJob(
        team_id=payload.team_id,
        user_id=payload.user_id,
        command_name=payload.command,
        trigger_id=payload.trigger_id,
        response_url=payload.response_url,
        command=command,
    )
    edge.hand_off(job)
    # The job logs under the trigger id as its correlation id: this line links the two.
    logger.info(
        "Command handed to an asynchronous invocation",
        extra={"command": command.name, "username": command.username, "trigger_id": payload.trigger_id},
    )
    return working_message(command)


# -- the job: this function, invoked asynchronously by itself ----------------------------------


def run_job(job: CommandJob, edge: SlackEdge) -> None:
    """Carry the command out (a state-changing one at most once per trigger_id), then post the
    result; raise when the post may work later, so that Lambda retries the job (a retry replays the
    first answer, a generated password included)."""
    logger.set_correlation_id(job.trigger_id)
    logger.append_keys(slack_team=job.team_id, slack_user=job.user_id, caller=job.caller)
    prefixes = edge.settings().slack_response_url_prefixes
    if not is_allowed_response_url(job.response_url, prefixes):
        logger.error("Job refused: its response_url is not under an allowed prefix")
        return
    delivery_deadline = Deadline.before_timeout(edge.context.get_remaining_time_in_millis())
    caller = Caller(identity=job.caller, via=CreatedVia.SLACK)
    try:
        invocation = Invocation.of(edge.context, edge.ports(), caller, key=job.trigger_id)
        message = _carry_out(job, replace(invocation, deadline=delivery_deadline.earlier_by(DELIVERY_SECONDS)))
    except Exception as error:
        message = _problem(error, edge.context, job.command_name)
    try:
        post_to_response_url(job.response_url, message, prefixes, delivery_deadline)
    except DeliveryFailed as failed:
        if failed.transient:
            logger.error(
                "The answer could not be posted; failing so that Lambda retries", extra={"reason": str(failed)}
            )
            raise
        logger.error("Slack refused the answer", extra={"reason": str(failed)})
        return
    logger.info("Answer posted to the response_url", extra={"command": job.command.name})


def _carry_out(job: CommandJob, invocation: Invocation) -> SlackMessage:
    """The use case the HTTP route runs, keyed by the trigger id when it changes anything."""
    ports, caller, deadline = invocation.ports, invocation.caller, invocation.deadline
    match job.command:
        case CreateCommand() as command:
            return created_message(invocation.once(create.create_endpoint_once, command.to_endpoint_request()))
        case ShowCommand(username=username):
            return endpoint_message(look_up_endpoint(ports, caller, username, deadline))
        case ResetPasswordCommand(username=username):
            return password_reset_message(invocation.once(reset_password_once, username, PasswordResetRequest()))
        case DisableCommand(username=username):
            return disabled_message(invocation.once(disable_endpoint_once, username), job.command_name)
        case DeleteCommand(username=username, confirmed=False):
            return delete_preview_message(preview_delete(ports, caller, username, deadline), job.command_name)
        case DeleteCommand(username=username, confirmed=True):
            return deleted_message(invocation.once(delete_endpoint_once, username))
        case AdoptCommand(username=username) as command:
            adopted = invocation.once(adopt_endpoint_once, username, command.to_adopt_request())
            return adopted_message(adopted, job.command_name)
    raise AssertionError(f"unreachable: every job command is matched ({job.command.name})")


# -- shared ------------------------------------------------------------------------------------


def _problem(error: Exception, context: LambdaContext, command_name: str) -> SlackMessage:
    """Every failed command goes through here: one message, one metric, one log line."""
    record_failure(problem_type_of(error), str(error))
    return problem_message(error, context.aws_request_id, command_name)


def _count_refusal(reason: str) -> None:
    count_by("SlackRequestsRefused", "reason", reason)


def _refusal(error: Exception, request_id: str | None) -> dict[str, Any]:
    """A request refused before any command is read: problem details, as every route answers."""
    problem, headers = problem_for(error, request_id)
    return _problem_response(problem, headers)


def _problem_response(problem: Problem, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "statusCode": problem.status,
        "headers": {"Content-Type": PROBLEM_CONTENT_TYPE, **headers},
        "body": problem.model_dump_json(exclude_none=True),
    }
