"""The send worker as template.yaml deploys it: fed by SendQueue with partial batch failures, and marking a
message failed on exactly the receive after which SQS moves it to the dead-letter queue."""

from __future__ import annotations

from posthorn_local import template


def test_worker_marks_failed_on_the_queues_last_receive() -> None:
    queue = template.resources()["SendQueue"]["Properties"]
    worker = template.function("SendWorkerFunction")
    assert int(worker["Environment"]["Variables"]["SEND_MAX_RECEIVES"]) == int(
        queue["RedrivePolicy"]["maxReceiveCount"]
    )
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["SendDeadLetterQueue", "Arn"]}


def test_worker_takes_batches_of_ten_and_reports_partial_failures() -> None:
    [event] = template.function("SendWorkerFunction")["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["SendQueue", "Arn"]}
    assert event["Properties"]["BatchSize"] == 10
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "SendWorkerConcurrency"}


def test_queue_visibility_covers_six_worker_timeouts() -> None:
    timeout = (
        template.function("SendWorkerFunction").get("Timeout")
        or template.load()["Globals"]["Function"]["Timeout"]
    )
    assert int(template.resources()["SendQueue"]["Properties"]["VisibilityTimeout"]) >= 6 * int(timeout)


def test_worker_reads_queued_bodies_only_under_queue_prefix() -> None:
    statements = template.function("SendWorkerFunction")["Policies"][0]["Statement"]
    [bodies] = [s for s in statements if s["Sid"] == "QueuedBodies"]
    assert bodies["Resource"] == {"Fn::Sub": "${FilesBucket.Arn}/queue/*"}
    assert sorted(bodies["Action"]) == ["s3:DeleteObject", "s3:GetObject"]
