"""Analytics endpoints (``analytics.view``): summary, one question, timeseries, funnel, cross-tab. Each takes
the filters of ``filters.py`` as query parameters and answers with an ``ETag`` (a dashboard polling with
``If-None-Match`` gets 304 until new aggregates land or the filter changes)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request

from shared_apps.core.openapi import ErrorSerializer
from tenant_apps.analytics import selectors
from tenant_apps.apibase import TenantApi
from tenant_apps.surveys.models import Survey

# --- serializers (the OpenAPI contract) ----------------------------------------------------------------------------


class VersionCountOutput(serializers.Serializer):
    version = serializers.IntegerField()
    responses = serializers.IntegerField()


class TotalsOutput(serializers.Serializer):
    responses = serializers.IntegerField()
    started = serializers.IntegerField(allow_null=True, help_text="With completion=all: responses + drafts.")
    in_progress = serializers.IntegerField(allow_null=True)
    completion_rate = serializers.FloatField(allow_null=True)
    median_completion_seconds = serializers.FloatField(allow_null=True)
    median_completion_exact = serializers.BooleanField()
    median_completion_error = serializers.FloatField(
        allow_null=True, help_text="When sampled (over 20,000 responses): max percentile-rank error (95 %)."
    )
    unique_respondents = serializers.IntegerField(
        allow_null=True, help_text="HyperLogLog estimate (days and whole survey only; null under finer filters)."
    )
    unique_respondents_error = serializers.FloatField(help_text="Standard error of the estimate (0.81 %).")
    versions = VersionCountOutput(many=True)


class ChoiceCountOutput(serializers.Serializer):
    id = serializers.CharField()
    text = serializers.CharField()
    count = serializers.IntegerField()
    percent = serializers.FloatField(allow_null=True, help_text="Of the question's respondents.")


class ValueCountOutput(serializers.Serializer):
    value = serializers.FloatField()
    count = serializers.IntegerField()


class NpsOutput(serializers.Serializer):
    promoters = serializers.IntegerField()
    passives = serializers.IntegerField()
    detractors = serializers.IntegerField()
    score = serializers.FloatField(allow_null=True)
    ci95 = serializers.ListField(child=serializers.FloatField(), allow_null=True)


class LabelOutput(serializers.Serializer):
    id = serializers.CharField()
    text = serializers.CharField()


class MatrixCellOutput(serializers.Serializer):
    row = serializers.CharField()
    column = serializers.CharField()
    count = serializers.IntegerField()


class RankOutput(serializers.Serializer):
    id = serializers.CharField()
    text = serializers.CharField()
    mean_rank = serializers.FloatField(allow_null=True)
    first_place = serializers.IntegerField()


class MonthCountOutput(serializers.Serializer):
    month = serializers.CharField()
    count = serializers.IntegerField()


class HiddenValueOutput(serializers.Serializer):
    value = serializers.CharField()
    count = serializers.IntegerField()


class TermOutput(serializers.Serializer):
    term = serializers.CharField()
    count = serializers.IntegerField()


class QuestionOutput(serializers.Serializer):
    """Common fields, then the fields of the question's kind (absent for other kinds)."""

    id = serializers.CharField()
    type = serializers.CharField()
    text = serializers.CharField()
    versions = serializers.ListField(child=serializers.IntegerField(), help_text="Versions that ask it.")
    answered = serializers.IntegerField()
    choices = ChoiceCountOutput(many=True, required=False, help_text="Choice, dropdown, multiple choice, yes/no.")
    mean_selections = serializers.FloatField(allow_null=True, required=False)
    other_texts = serializers.ListField(child=serializers.CharField(), required=False)
    mean = serializers.FloatField(allow_null=True, required=False)
    stddev = serializers.FloatField(allow_null=True, required=False)
    min = serializers.FloatField(allow_null=True, required=False)
    max = serializers.FloatField(allow_null=True, required=False)
    distribution = ValueCountOutput(many=True, required=False)
    nps = NpsOutput(required=False)
    percentiles = serializers.DictField(
        child=serializers.FloatField(),
        allow_null=True,
        required=False,
        help_text="p25..p99: exact, or over 20,000 answers (unfiltered or days only) from a block sample.",
    )
    percentiles_exact = serializers.BooleanField(required=False)
    percentiles_error = serializers.FloatField(
        allow_null=True, required=False, help_text="When sampled: max percentile-rank error (95 %), e.g. 0.01."
    )
    rows = LabelOutput(many=True, required=False)
    columns = LabelOutput(many=True, required=False)
    cells = MatrixCellOutput(many=True, required=False)
    items = RankOutput(many=True, required=False)
    months = MonthCountOutput(many=True, required=False)
    total_size = serializers.IntegerField(required=False)
    values = HiddenValueOutput(many=True, required=False)
    latest = serializers.ListField(child=serializers.CharField(), required=False)
    top_terms = TermOutput(many=True, required=False)


class SummaryOutput(serializers.Serializer):
    survey_id = serializers.IntegerField()
    aggregated_until = serializers.DateTimeField(allow_null=True)
    filters = serializers.DictField()
    totals = TotalsOutput()
    questions = QuestionOutput(many=True)


class QuestionSummaryOutput(serializers.Serializer):
    survey_id = serializers.IntegerField()
    filters = serializers.DictField()
    question = QuestionOutput()


class PointOutput(serializers.Serializer):
    start = serializers.DateTimeField()
    responses = serializers.IntegerField()


class TimeseriesOutput(serializers.Serializer):
    survey_id = serializers.IntegerField()
    interval = serializers.ChoiceField(choices=selectors.INTERVALS)
    tz = serializers.CharField()
    points = PointOutput(many=True)


class FunnelQuestionOutput(serializers.Serializer):
    id = serializers.CharField()
    answered = serializers.IntegerField()


class FunnelPageOutput(serializers.Serializer):
    page = serializers.CharField(allow_null=True)
    title = serializers.CharField()
    reached = serializers.IntegerField()
    stopped = serializers.IntegerField(help_text="Drafts in progress on this page.")
    questions = FunnelQuestionOutput(many=True)


class FunnelOutput(serializers.Serializer):
    survey_id = serializers.IntegerField()
    version = serializers.IntegerField(allow_null=True)
    started = serializers.IntegerField()
    completed = serializers.IntegerField()
    pages = FunnelPageOutput(many=True)


class AxisOutput(serializers.Serializer):
    question = serializers.CharField()
    categories = serializers.ListField(child=serializers.CharField())


class ChiSquareOutput(serializers.Serializer):
    statistic = serializers.FloatField()
    dof = serializers.IntegerField()
    p_value = serializers.FloatField()


class CrosstabOutput(serializers.Serializer):
    survey_id = serializers.IntegerField()
    rows = AxisOutput()
    columns = AxisOutput()
    counts = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    row_percent = serializers.ListField(child=serializers.ListField(child=serializers.FloatField(allow_null=True)))
    column_percent = serializers.ListField(child=serializers.ListField(child=serializers.FloatField(allow_null=True)))
    total = serializers.IntegerField()
    chi_square = ChiSquareOutput(allow_null=True)


# --- OpenAPI parameters and responses ------------------------------------------------------------------------------

FILTER_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day (UTC), included."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (UTC), included."),
    OpenApiParameter("version", int, description="A version number of the survey."),
    OpenApiParameter("completion", str, enum=["completed", "all"], description="`all` also counts drafts."),
    OpenApiParameter(
        "where",
        str,
        description="A condition in the rule language's form (JSON): all/any/not of comparisons "
        "(equals, not_equals, in, gt, gte, lt, lte, contains, contains_any, is_answered, is_empty).",
        examples=[OpenApiExample("role is dev", value='{"q": "q_role", "op": "equals", "value": "dev"}')],
    ),
    OpenApiParameter("hidden.{field}", str, description="A hidden field's value, e.g. `hidden.utm_source=newsletter`."),
]
ERRORS = {
    304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag)."),
    400: OpenApiResponse(ErrorSerializer, description="A filter or parameter is invalid."),
    401: OpenApiResponse(ErrorSerializer, description="Not signed in."),
    403: OpenApiResponse(ErrorSerializer, description="Missing analytics.view."),
    404: OpenApiResponse(ErrorSerializer, description="No such survey (or question) in this organisation."),
}
SUMMARY_EXAMPLE = OpenApiExample(
    "summary",
    value={
        "survey_id": 7,
        "aggregated_until": "2026-12-02T18:00:05Z",
        "filters": {"from": None, "to": None, "version": None, "completion": "completed", "where": None, "hidden": {}},
        "totals": {
            "responses": 120, "started": None, "in_progress": None, "completion_rate": None,
            "median_completion_seconds": 84.0, "median_completion_exact": True,
            "median_completion_error": None, "unique_respondents": 118, "unique_respondents_error": 0.0081,
            "versions": [{"version": 1, "responses": 120}],
        },
        "questions": [
            {"id": "q_role", "type": "single_choice", "text": "Your role?", "versions": [1], "answered": 120,
             "choices": [{"id": "dev", "text": "Engineering", "count": 80, "percent": 66.67},
                         {"id": "__other__", "text": "Other", "count": 40, "percent": 33.33}],
             "other_texts": ["Sales"]},
        ],
    },
    response_only=True,
)  # fmt: skip


# --- views ---------------------------------------------------------------------------------------------------------


class AnalyticsApi(TenantApi):
    required_permission = "analytics.view"

    def context(self, request: Request, pk: int) -> selectors.Context:
        survey = get_object_or_404(Survey.objects.only("pk", "definition"), pk=pk)
        return selectors.context_load(survey=survey, params=request.query_params)

    def answer(self, request: Request, body: dict[str, Any]) -> HttpResponse:
        """JSON with a strong ETag of the body; 304 when the client already has it."""
        content = json.dumps(body, separators=(",", ":"), default=str).encode()
        etag = f'"{hashlib.sha256(content).hexdigest()[:32]}"'
        if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
            response = HttpResponse(status=304)
        else:
            response = HttpResponse(content, content_type="application/json")
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response

    def cached(self, context: selectors.Context, name: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return selectors.cached(context, name, compute)


class SurveyAnalyticsApi(AnalyticsApi):
    @extend_schema(
        operation_id="analytics_summary",
        parameters=FILTER_PARAMETERS,
        responses={200: SummaryOutput, **ERRORS},
        examples=[SUMMARY_EXAMPLE],
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        context = self.context(request, pk)
        return self.answer(request, self.cached(context, "summary", lambda: selectors.summary(context)))


class QuestionAnalyticsApi(AnalyticsApi):
    @extend_schema(
        operation_id="analytics_question",
        parameters=FILTER_PARAMETERS,
        responses={200: QuestionSummaryOutput, **ERRORS},
    )
    def get(self, request: Request, pk: int, question_id: str) -> HttpResponse:
        context = self.context(request, pk)
        if question_id not in {q.question_id for q in context.questions}:
            raise Http404("No such question in this survey.")
        body = self.cached(
            context,
            f"question:{question_id}",
            lambda: selectors.question_summary(context, question_id) or {"missing": True},
        )
        if body.get("missing"):
            raise Http404("No such question in this survey.")
        return self.answer(request, body)


class TimeseriesAnalyticsApi(AnalyticsApi):
    @extend_schema(
        operation_id="analytics_timeseries",
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter("interval", str, enum=list(selectors.INTERVALS), description="Default: day."),
            OpenApiParameter(
                "tz", str, description="IANA time zone of the buckets. Default: the organisation's time zone."
            ),
        ],
        responses={200: TimeseriesOutput, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        context = self.context(request, pk)
        interval = request.query_params.get("interval") or "day"
        tz = request.query_params.get("tz") or self.organisation.timezone
        selectors.timeseries_check(interval=interval, tz=tz)
        return self.answer(
            request,
            self.cached(
                context, f"timeseries:{interval}:{tz}", lambda: selectors.timeseries(context, interval=interval, tz=tz)
            ),
        )


class FunnelAnalyticsApi(AnalyticsApi):
    @extend_schema(
        operation_id="analytics_funnel", parameters=FILTER_PARAMETERS, responses={200: FunnelOutput, **ERRORS}
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        context = self.context(request, pk)
        return self.answer(request, self.cached(context, "funnel", lambda: selectors.funnel(context)))


class CrosstabAnalyticsApi(AnalyticsApi):
    @extend_schema(
        operation_id="analytics_crosstab",
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter("rows", str, required=True, description="A categorical question id."),
            OpenApiParameter("columns", str, required=True, description="Another categorical question id."),
        ],
        responses={200: CrosstabOutput, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        context = self.context(request, pk)
        rows = request.query_params.get("rows") or ""
        columns = request.query_params.get("columns") or ""
        if not rows or not columns:
            raise serializers.ValidationError(
                {name: ["Required."] for name, value in (("rows", rows), ("columns", columns)) if not value}
            )
        selectors.crosstab_check(context, rows=rows, columns=columns)
        return self.answer(
            request,
            self.cached(
                context,
                f"crosstab:{rows}:{columns}",
                lambda: selectors.crosstab(context, rows=rows, columns=columns),
            ),
        )
