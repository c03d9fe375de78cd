"""The function's one Logger and Metrics, configured from the POWERTOOLS_* variables the template sets."""

from __future__ import annotations

from aws_lambda_powertools import Metrics

from posthorn import logs

logger = logs.service_logger()
metrics = Metrics()
