"""The file cache (permission `files`): upload once, attach by `file_key` in any number of messages."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, TypeVar

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ValidationError

from posthorn import wiring
from posthorn.errors import InvalidJson, NotFound, PayloadTooLarge, UpstreamUnavailable, ValidationFailed
from posthorn.logic.files.attachments import MAX_FILE_BYTES, FileProblem, decode_base64
from posthorn.models.files import (
    CreateUploadRequest,
    FileView,
    RawUploadParameters,
    UploadFileRequest,
    UploadView,
)
from posthorn.ports import FileUploads
from send_api import examples
from send_api.auth import CallerCredential
from send_api.contract import Success, answers, request_body, request_example
from send_api.errors import validation_failure
from send_api.request_body import BodyNotJson, json_object, media_type
from send_api.responses import json_response

router = APIGatewayRouter()
Model = TypeVar("Model", bound=BaseModel)
Files = Annotated[FileUploads, Depends(wiring.file_cache)]
NO_FILE = NotFound(f"no file {examples.FILE['file_key']}")

# Content types HTTP clients send by default: they say nothing about the file, so its name decides.
_UNDECLARED = frozenset({"", "application/octet-stream", "application/x-www-form-urlencoded"})

UPLOAD_DESCRIPTION = f"""Two forms:
- **raw**: the file's bytes as the body, `?name=invoice.pdf`, and the file's type as `Content-Type` (or
  `?content_type=`; without either, or with `application/octet-stream`, the type follows the name).
- **JSON** (`Content-Type: application/json`, no `?name=`):
  `{{"name", "content": "<base64>", "content_type"}}`.

Files are checked before they are stored: SES's blocked extensions, empty files, a type that does not fit
the name, bytes that are not what the type says (images, PDF, archives), executables. At most
{MAX_FILE_BYTES} bytes (what still fits in a 40 MB message once encoded); API Gateway refuses request
bodies over 10 MB (and Lambda events over 6 MB, about 4.5 MB of raw bytes): use `POST /v1/files/uploads`
for larger files. The same bytes uploaded again by the same credential share storage."""


def _parse(model: type[Model], values: Any) -> Model:
    try:
        return model.model_validate(values)
    except ValidationError as error:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        raise validation_failure(errors, "application/json") from None


def _raw_body() -> bytes:
    event = router.current_event
    body = event.body or ""
    if not event.is_base64_encoded:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body)
    except (binascii.Error, ValueError):  # API Gateway's own encoding: never the client's fault
        raise ValidationFailed.on("body", "could not be decoded") from None


@router.post(
    "/v1/files",
    operation_id="upload_file",
    summary="Upload a file to the cache",
    description=UPLOAD_DESCRIPTION,
    tags=["files"],
    openapi_extensions={
        "requestBody": request_body(
            "The file's bytes (with `?name=`), or a JSON body",
            UploadFileRequest,
            examples.FILE_JSON_UPLOAD,
            raw=True,
        )
    },
    responses=answers(
        Success(201, "Stored", FileView, example=examples.FILE),
        errors=[InvalidJson, ValidationFailed, PayloadTooLarge, UpstreamUnavailable],
    ),
)
def upload_file(
    credential: CallerCredential,
    cache: Files,
    name: Annotated[str | None, Query(description="The file's name (raw uploads)")] = None,
    content_type: Annotated[str | None, Query(description="The file's type (raw uploads)")] = None,
) -> Response[FileView]:
    header_type = media_type(router.current_event.headers.get("content-type"))
    if name is None and header_type == "application/json":
        try:
            body = json_object(_raw_body() or b"null")
        except BodyNotJson as error:
            raise InvalidJson(error.msg) from None
        request = _parse(UploadFileRequest, body)
        try:
            data = decode_base64(request.content)
        except FileProblem as problem:
            raise ValidationFailed.on(problem.field, problem.message) from None
        record = cache.upload(credential, request.name, request.content_type, data)
        return json_response(201, FileView.of(record))

    if header_type.startswith("multipart/"):
        raise ValidationFailed.on("body", "send the file's bytes as the body, not a multipart form")
    declared = (
        content_type if content_type is not None else (None if header_type in _UNDECLARED else header_type)
    )
    parameters = _parse(RawUploadParameters, {"name": name, "content_type": declared})
    data = _raw_body()
    record = cache.upload(
        credential, parameters.name, parameters.content_type, data, fields={"content": "body"}
    )
    return json_response(201, FileView.of(record))


@router.post(
    "/v1/files/uploads",
    operation_id="create_upload",
    summary="A presigned S3 PUT for a large file",
    description=(
        "For files over API Gateway's request limit. PUT exactly `size` bytes to `upload_url` with the "
        "headers in `upload_headers` before `upload_expires_at`. The bytes are checked (size, type) on "
        "first use: `GET /v1/files/{file_key}` then says `ready` or `rejected`."
    ),
    tags=["files"],
    responses=answers(
        Success(201, "Upload URL", UploadView, example=examples.UPLOAD),
        errors=[InvalidJson, ValidationFailed, PayloadTooLarge, UpstreamUnavailable],
    ),
)
def create_upload(
    request: Annotated[
        CreateUploadRequest,
        Body(embed=False, openapi_examples=request_example(examples.UPLOAD_REQUEST, "A 7 MB catalog")),
    ],
    credential: CallerCredential,
    cache: Files,
) -> Response[UploadView]:
    upload = cache.create_upload(credential, request.name, request.content_type, request.size)
    view = UploadView(
        file_key=upload.record.file_key,
        upload_url=upload.url,
        upload_headers=upload.headers,
        upload_expires_at=upload.url_expires_at,
        expires_at=upload.record.expires_at,
    )
    return json_response(201, view)


@router.get(
    "/v1/files/<file_key>",
    operation_id="get_file",
    summary="A cached file's metadata",
    tags=["files"],
    responses=answers(
        Success(200, "The file", FileView, example=examples.FILE),
        errors=[NO_FILE, UpstreamUnavailable],
    ),
)
def get_file(file_key: str, credential: CallerCredential, cache: Files) -> FileView:
    return FileView.of(cache.get(credential, file_key))


@router.delete(
    "/v1/files/<file_key>",
    operation_id="delete_file",
    summary="Delete a cached file",
    tags=["files"],
    responses=answers(Success(204, "Deleted"), errors=[NO_FILE, UpstreamUnavailable]),
)
def delete_file(file_key: str, credential: CallerCredential, cache: Files) -> Response[None]:
    cache.delete(credential, file_key)
    return Response(status_code=204)
