from django.db import migrations, models


def totals_fill(apps, schema_editor):
    """Existing cells summed over days (later runs keep the totals in step)."""
    schema_editor.execute(
        "INSERT INTO analytics_total (survey_id, version_id, question_id, key, n, sum, sum_sq, min, max) "
        "SELECT survey_id, version_id, question_id, key, sum(n), sum(sum), sum(sum_sq), min(min), max(max) "
        "FROM analytics_cell GROUP BY 1, 2, 3, 4"
    )


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="Total",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("survey_id", models.BigIntegerField()),
                ("version_id", models.BigIntegerField()),
                ("question_id", models.CharField(max_length=64)),
                ("key", models.CharField(max_length=300)),
                ("n", models.BigIntegerField()),
                ("sum", models.FloatField(null=True)),
                ("sum_sq", models.FloatField(null=True)),
                ("min", models.FloatField(null=True)),
                ("max", models.FloatField(null=True)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("survey_id", "version_id", "question_id", "key"), name="analytics_total_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(totals_fill, migrations.RunPython.noop),
    ]
