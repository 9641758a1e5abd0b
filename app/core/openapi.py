"""How the OpenAPI description shows errors: as the RFC 9457 problem
documents ``app.core.problems`` answers with (``application/problem+json``).

flask-smorest documents every error response with its own payload
(``code``/``status``/``message``, ``application/json``), which is not what
the API sends; a client generated from the description, or a fuzzer that
checks answers against it, would be misled. ``ProblemApi`` registers the
same responses (``DEFAULT_ERROR`` and one per HTTP status, referenced by the
endpoints) with ``ProblemSchema`` under the problem media type.
"""

from __future__ import annotations

import http

from flask_smorest import Api
from flask_smorest.utils import prepare_response
from marshmallow import INCLUDE, Schema, fields

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemSchema(Schema):
    """An error answer. Clients match on ``type``; ``title`` and ``detail``
    are for people. Extension members may follow (RFC 9457 section 3.2)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(
        required=True,
        metadata={"description": "A stable URI naming the kind of error, e.g. .../not-found."},
    )
    title = fields.String(required=True, metadata={"description": "The kind of error, in short."})
    status = fields.Integer(required=True, metadata={"description": "The HTTP status code."})
    detail = fields.String(required=True, metadata={"description": "What went wrong this time."})
    instance = fields.String(metadata={"description": "The path that was asked for."})
    errors = fields.Dict(
        metadata={"description": "Field errors: each field (or request part) with its messages."}
    )
    request_id = fields.String(
        metadata={"description": "On 500 answers: the id the error was logged under."}
    )


class ProblemApi(Api):
    """flask-smorest's ``Api`` with errors documented as problem documents."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        # flask-smorest's own registration, under the problem media type: the
        # successful responses keep DEFAULT_RESPONSE_CONTENT_TYPE.
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MEDIA_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)
