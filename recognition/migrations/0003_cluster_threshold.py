from django.db import migrations, models


def _set_measured_thresholds(apps, schema_editor):
    # The values recognition.services registers new models with (measured in
    # bench/clusters.py); packs imported before this migration get the pack one.
    FaceModel = apps.get_model("recognition", "FaceModel")
    FaceModel.objects.filter(engine="dlib").update(cluster_threshold=0.94)
    FaceModel.objects.filter(engine="insightface").update(cluster_threshold=0.45)


class Migration(migrations.Migration):
    dependencies = [
        ("recognition", "0002_match_threshold"),
    ]

    operations = [
        migrations.AddField(
            model_name="facemodel",
            name="cluster_threshold",
            field=models.FloatField(default=0.5),
        ),
        migrations.RunPython(_set_measured_thresholds, migrations.RunPython.noop),
    ]
