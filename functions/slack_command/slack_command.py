"""Lambda entry for the Slack slash command, `POST /chatops/slack`, and for the create it hands itself.

API Gateway cannot sign Slack's calls, so this route has no IAM authorizer: the function checks
Slack's request signature over the raw body before it reads anything else, then the workspace.
A request that fails either is answered 401 or 403 and nothing else happens.

Slack wants an answer within 3 seconds, so `help`, `profiles` and every rule of a `create` are
answered at once (SSM only, no SignalWire call), and an acceptable create is answered "working
on it" and handed to an asynchronous invocation of this same function. That invocation runs the
use case `POST /endpoints` runs, at most once per Slack `trigger_id`, and posts the result to the
command's `response_url`.
"""

import base64
import binascii
import os
import time
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from sip_provisioning.configuration import SLACK_SIGNING_SECRET, SlackSettings
from sip_provisioning.deadline import Deadline
from sip_provisioning.domain.records import CreatedVia
from sip_provisioning.errors import ConfigurationError
from sip_provisioning.observability import count_by, logger, metrics, record_failure
from sip_provisioning.problems import problem_type_of
from sip_provisioning.settings import RuntimeSettings
from sip_provisioning.slack.commands import (
    CommandNotUnderstood,
    CreateCommand,
    HelpCommand,
    ProfilesCommand,
    parse_command,
)
from sip_provisioning.slack.delivery import DeliveryFailed, is_allowed_response_url, post_to_response_url
from sip_provisioning.slack.messages import (
    SlackMessage,
    created_message,
    problem_message,
    profiles_message,
    response_url_refused_message,
    usage_message,
    working_message,
)
from sip_provisioning.slack.payloads import CREATE_JOB_KIND, CreateJob, MalformedSlashCommand, SlashCommandPayload
from sip_provisioning.slack.signature import SignatureRejected, verify_slack_signature
from sip_provisioning.use_cases import create
from sip_provisioning.use_cases.list_profiles import list_profiles
from sip_provisioning.use_cases.ports import Caller
from sip_provisioning.wiring import Wiring, warm_up_during_init

# Of the create job's time, what posting the answer (with its retries) may take after the create.
DELIVERY_SECONDS = 6.0
PLAIN_TEXT = "text/plain; charset=utf-8"
JSON = "application/json"

# Bounded waits for the asynchronous invoke: the whole answer must reach Slack within 3 seconds.
_LAMBDA_CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "max_attempts": 2})


@cache
def settings() -> RuntimeSettings:
    return RuntimeSettings.from_environ(os.environ)


@cache
def wiring() -> Wiring:
    """Built on first use, then reused by every warm invocation of this container."""
    return Wiring(settings())


@cache
def lambda_client() -> Any:
    return boto3.client("lambda", config=_LAMBDA_CLIENT_CONFIG)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any] | None:
    if event.get("kind") == CREATE_JOB_KIND:
        _run_create_job(CreateJob.model_validate(event), context)
        return None
    return _answer_slack_request(APIGatewayProxyEventV2(event), context)


# -- the request from Slack: answered within 3 seconds ------------------------------------------


def _answer_slack_request(event: APIGatewayProxyEventV2, context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(event.request_context.request_id)
    try:
        slack = _slack_settings()
    except ConfigurationError as error:
        logger.error("The Slack command cannot check requests", extra={"detail": str(error)})
        return _plain(500, "The Slack command is not set up on this service.")
    try:
        raw_body = _raw_body(event)
    except binascii.Error:
        return _plain(400, "The body is not readable.")
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
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
        return _plain(401, "The request is not signed by Slack.")
    try:
        payload = SlashCommandPayload.from_form(raw_body)
    except MalformedSlashCommand as malformed:
        logger.warning("Signed request refused: not a slash command", extra={"reason": str(malformed)})
        return _plain(400, str(malformed))
    logger.append_keys(slack_team=payload.team_id, slack_user=payload.user_id, caller=payload.caller)
    if payload.team_id not in slack.allowed_team_ids:
        _count_refusal("team")
        logger.warning("Slack request refused: the workspace is not allowed")
        return _plain(403, "This Slack workspace may not use this command.")
    message = _answer_command(payload, context)
    return {"statusCode": 200, "headers": {"Content-Type": JSON}, "body": message.to_json()}


def _slack_settings() -> SlackSettings:
    slack = wiring().ports.config.load().slack
    if slack is None:
        raise ConfigurationError(f"{settings().parameters_path}/{SLACK_SIGNING_SECRET}", "is missing")
    return slack


def _slack_caller(payload: SlashCommandPayload) -> Caller:
    return Caller(identity=payload.caller, via=CreatedVia.SLACK)


def _raw_body(event: APIGatewayProxyEventV2) -> bytes:
    """The body's bytes exactly as Slack signed them (API Gateway base64-encodes form bodies)."""
    body = event.get("body") or ""
    if event.is_base64_encoded:
        return base64.b64decode(body, validate=True)
    return body.encode("utf-8", "surrogatepass")


def _answer_command(payload: SlashCommandPayload, context: LambdaContext) -> SlackMessage:
    try:
        command = parse_command(payload.text)
    except CommandNotUnderstood as not_understood:
        return usage_message(payload.command, str(not_understood))
    try:
        match command:
            case HelpCommand():
                return usage_message(payload.command)
            case ProfilesCommand():
                return profiles_message(list_profiles(wiring().ports, _slack_caller(payload)), payload.command)
            case CreateCommand():
                return _start_create(payload, command, context)
    except Exception as error:
        return _problem(error, context, payload.command)


def _start_create(payload: SlashCommandPayload, command: CreateCommand, context: LambdaContext) -> SlackMessage:
    """Check every rule now (SSM only, SignalWire untouched), then hand the create to a job."""
    request = command.to_endpoint_request()
    create.preview_endpoint(wiring().ports, _slack_caller(payload), request)
    if not is_allowed_response_url(payload.response_url, settings().slack_response_url_prefixes):
        logger.error("Create not started: the response_url is not under an allowed prefix")
        return response_url_refused_message()
    job = CreateJob(
        team_id=payload.team_id,
        user_id=payload.user_id,
        command_name=payload.command,
        trigger_id=payload.trigger_id,
        response_url=payload.response_url,
        command=command,
    )
    lambda_client().invoke(
        FunctionName=context.invoked_function_arn, InvocationType="Event", Payload=job.model_dump_json().encode()
    )
    # The job logs under the trigger id as its correlation id: this line links the two.
    logger.info(
        "Create handed to an asynchronous invocation",
        extra={"username": request.username, "trigger_id": payload.trigger_id},
    )
    return working_message(request.username)


# -- the create job: this function, invoked asynchronously by itself ----------------------------


def _run_create_job(job: CreateJob, context: LambdaContext) -> None:
    """Create at most once per trigger_id, then post the result; raise when the post may work later,
    so that Lambda retries the job (a retry replays the create's first answer, password included)."""
    logger.set_correlation_id(job.trigger_id)
    logger.append_keys(slack_team=job.team_id, slack_user=job.user_id, caller=job.caller)
    prefixes = settings().slack_response_url_prefixes
    if not is_allowed_response_url(job.response_url, prefixes):
        logger.error("Create job refused: its response_url is not under an allowed prefix")
        return
    delivery_deadline = Deadline.before_timeout(context.get_remaining_time_in_millis())
    create_deadline = delivery_deadline.earlier_by(DELIVERY_SECONDS)
    ports = wiring().ports
    caller = Caller(identity=job.caller, via=CreatedVia.SLACK)
    request = job.command.to_endpoint_request()
    try:
        # A record left by a function that dies mid-create is taken over after this invocation.
        busy_seconds = context.get_remaining_time_in_millis() / 1000
        created = create.create_endpoint_once(
            ports, caller, request, create_deadline, key=job.trigger_id, busy_seconds=busy_seconds
        )
        message = created_message(created)
    except Exception as error:
        message = _problem(error, context, job.command_name)
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
    logger.info("Answer posted to the response_url")


# -- shared ------------------------------------------------------------------------------------


def _problem(error: Exception, context: LambdaContext, command_name: str) -> SlackMessage:
    """Every failed command goes through here: one message, one metric, one log line."""
    record_failure(problem_type_of(error), str(error))
    return problem_message(error, context.aws_request_id, command_name)


def _count_refusal(reason: str) -> None:
    count_by("SlackRequestsRefused", "reason", reason)


def _plain(status: int, text: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": PLAIN_TEXT}, "body": text}


warm_up_during_init(wiring, os.environ)
