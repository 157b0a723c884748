"""Request / response values shared by the REST and Bulk handlers."""

import json
from dataclasses import dataclass, field

from . import jsonfmt

JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv"


@dataclass
class Request:
    method: str
    path: str  # URL path without the query string
    params: dict  # query-string parameters (first value of each)
    headers: dict  # lower-cased header names
    body: bytes
    org: object = None
    user: object = None  # UserSpec once authenticated
    version: str = "59.0"
    match: tuple = ()  # regex groups of the route

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character in request body: {err}") from err


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: dict = field(default_factory=dict)


class ApiError(Exception):
    """An error answered as Salesforce's JSON array `[{"message", "errorCode"(, "fields")}]`."""

    def __init__(self, status: int, code: str, message: str, fields: list | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields

    def response(self) -> Response:
        body = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            body["fields"] = self.fields
        return json_response([body], self.status)


def json_response(value, status: int = 200, headers: dict | None = None) -> Response:
    return Response(status, jsonfmt.dumps_bytes(value), JSON_TYPE, headers or {})


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")
