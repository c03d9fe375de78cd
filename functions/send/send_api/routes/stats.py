"""`GET /v1/stats` (permission `read`): counts per recipient, from the counters the events keep."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from posthorn import wiring
from posthorn.errors import NotFound, ValidationFailed
from posthorn.logic.insight.stats import stats_for
from posthorn.models.stats import StatsView
from posthorn.ports import Clock, StatsReader
from send_api import examples
from send_api.auth import CallerCredential
from send_api.contract import Success, answers
from send_api.query import Since, Until, only_known_parameters
from send_api.routes.messages import TagName, utc

router = APIGatewayRouter()
STATS_PARAMETERS = frozenset({"domain", "tag", "since", "until", "interval"})


@router.get(
    "/v1/stats",
    operation_id="get_stats",
    summary="Sent, delivered, bounced, complained, opened, clicked ... per day or hour",
    tags=["messages"],
    responses=answers(
        Success(200, "Totals, rates and a series", StatsView, example=examples.STATS),
        errors=[ValidationFailed, NotFound("no domain example.org for this credential")],
    ),
)
def get_stats(
    credential: CallerCredential,
    reader: Annotated[StatsReader, Depends(wiring.stats)],
    clock: Annotated[Clock, Depends(wiring.clock)],
    domain: Annotated[
        str | None, Query(max_length=253, description="One of the credential's domains")
    ] = None,
    tag: Annotated[str | None, TagName] = None,
    since: Since = None,
    until: Until = None,
    interval: Annotated[Literal["day", "hour"], Query()] = "day",
) -> StatsView:
    only_known_parameters(router, STATS_PARAMETERS)
    return stats_for(
        credential,
        reader,
        now=clock.now(),
        domain=domain.lower() if domain else None,
        tag=tag,
        since=utc(since),
        until=utc(until),
        interval=interval,
    )
