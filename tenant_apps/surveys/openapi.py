"""OpenAPI descriptions of the survey definition's parts (``logic/SPEC.md`` is the reference).

The builder endpoints take these documents as JSON and the compiler validates them (one message per
problem); these serializers only document them, so Swagger and generated clients show real fields.
"""

from __future__ import annotations

from rest_framework import serializers

from tenant_apps.surveys.definition import ID_PATTERN, QUESTION_TYPES
from tenant_apps.surveys.models import Survey
from tenant_apps.surveys.services import EXPORT_FORMAT

ID_HELP = "Letters, digits, underscores; starts with a letter; at most 64 characters."
CONDITION_HELP = "A condition (see the rule language): {all|any: [...]}, {not: ...} or {q|var, op, value}."


def _id(**kwargs: object) -> serializers.RegexField:
    return serializers.RegexField(rf"^{ID_PATTERN}$", max_length=64, help_text=ID_HELP, **kwargs)  # type: ignore[arg-type]


class ChoiceSchema(serializers.Serializer):
    id = _id()
    text = serializers.CharField(required=False, allow_blank=True)
    score = serializers.FloatField(required=False)
    visible_if = serializers.JSONField(required=False, help_text=CONDITION_HELP)


class MatrixItemSchema(serializers.Serializer):
    id = _id()
    text = serializers.CharField(required=False, allow_blank=True)


class QuestionSchema(serializers.Serializer):
    id = _id()
    type = serializers.ChoiceField(choices=sorted(QUESTION_TYPES))
    text = serializers.CharField(required=False, allow_blank=True)
    required = serializers.BooleanField(required=False)  # type: ignore[assignment]  # a field, not Field.required
    visible_if = serializers.JSONField(required=False, help_text=CONDITION_HELP)
    required_if = serializers.JSONField(required=False, help_text=CONDITION_HELP)
    choices = ChoiceSchema(many=True, required=False, help_text="Choice questions: at least one.")
    rows = MatrixItemSchema(many=True, required=False, help_text="Matrix questions.")
    columns = MatrixItemSchema(many=True, required=False, help_text="Matrix questions.")
    pattern = serializers.CharField(required=False, help_text="Text questions: a regular expression to match.")
    min = serializers.FloatField(required=False, min_value=0)
    max = serializers.FloatField(required=False, min_value=0)
    min_length = serializers.IntegerField(required=False, min_value=0)
    max_length = serializers.IntegerField(required=False, min_value=0)
    min_selections = serializers.IntegerField(required=False, min_value=0)
    max_selections = serializers.IntegerField(required=False, min_value=0)


class RuleSchema(serializers.Serializer):
    id = _id()
    when = serializers.JSONField(help_text=CONDITION_HELP)
    then = serializers.ListField(child=serializers.JSONField(), help_text="Actions, in order.")


class PageSchema(serializers.Serializer):
    id = _id()
    title = serializers.CharField(required=False, allow_blank=True)
    visible_if = serializers.JSONField(required=False, help_text=CONDITION_HELP)
    questions = QuestionSchema(many=True, required=False)
    rules = RuleSchema(many=True, required=False)


class VariableSchema(serializers.Serializer):
    id = _id()
    initial = serializers.FloatField(required=False)


class EndScreenSchema(serializers.Serializer):
    id = _id()
    text = serializers.CharField(required=False, allow_blank=True)


class DefinitionSchema(serializers.Serializer):
    variables = VariableSchema(many=True, required=False)
    end_screens = EndScreenSchema(many=True, required=False)
    pages = PageSchema(many=True)


POSITION = serializers.IntegerField(required=False, min_value=0, help_text="Where to insert (0 = first).")


class PageAddSchema(PageSchema):
    position = POSITION


class PageChangesSchema(serializers.Serializer):
    title = serializers.CharField(required=False, allow_blank=True)
    visible_if = serializers.JSONField(required=False, help_text=CONDITION_HELP)
    rules = RuleSchema(many=True, required=False)


class QuestionAddSchema(QuestionSchema):
    position = POSITION


class QuestionChangesSchema(QuestionSchema):
    """The question's fields to change (its id stays)."""

    id = None  # type: ignore[assignment]
    type = serializers.ChoiceField(choices=sorted(QUESTION_TYPES), required=False)


class ExportSettingsSchema(serializers.Serializer):
    access = serializers.ChoiceField(choices=Survey.Access.choices, required=False)
    opens_at = serializers.DateTimeField(required=False, allow_null=True)
    closes_at = serializers.DateTimeField(required=False, allow_null=True)
    response_limit = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    one_response_per_respondent = serializers.BooleanField(required=False)
    notify_owners = serializers.BooleanField(required=False)
    branding = serializers.DictField(required=False)


class ExportDocumentSchema(serializers.Serializer):
    format = serializers.ChoiceField(choices=[EXPORT_FORMAT])
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(allow_blank=True, required=False)
    settings = ExportSettingsSchema(required=False)
    definition = DefinitionSchema()


class LoadedSurveyInfoSchema(serializers.Serializer):
    link = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    version = serializers.IntegerField()
    branding = serializers.DictField()
    access = serializers.CharField()


class LoadedSurveySchema(serializers.Serializer):
    survey = LoadedSurveyInfoSchema()
    definition = serializers.DictField(help_text="The published definition (see DefinitionSchema).")
