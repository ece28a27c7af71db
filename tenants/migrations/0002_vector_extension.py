from django.db import migrations


class Migration(migrations.Migration):
    """pgvector, once, in the public schema, where every tenant's search_path finds it.

    Created from this shared app on purpose: a VectorExtension() in a tenant
    app would install the type into the first tenant's schema only.
    """

    dependencies = [("tenants", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
