"""The taxonomy's "Transit" branch is named "Transportation", the word people search with.

Searching "transportation" found 2 of the 18 services meeting a transportation need: the
branch's services are found by their terms' ancestors' names (0010), and the top term's name
was "Transit". Renames the shipped term where it still has its shipped name (a directory that
renamed it keeps its own), then rewrites the search documents of the services under it, with
the words as refresh_search_documents() wrote them when this migration was made (frozen here).
"""

import re

from django.db import migrations

BATCH = 1000
_WORD_CHARACTERS = r"[^\W_]+"


def forward(apps, schema_editor):
    service_model = apps.get_model("directory", "Service")
    link_model = apps.get_model("directory", "ServiceTaxonomy")
    term_model = apps.get_model("directory", "TaxonomyTerm")
    word_model = apps.get_model("directory", "SearchWord")

    if not term_model.objects.filter(vocabulary="handoff", code="transit", name="Transit").update(
        name="Transportation"
    ):
        return
    parent_of, name_of = {}, {}
    for pk, name, parent_id in term_model.objects.values_list("pk", "name", "parent_id"):
        parent_of[pk], name_of[pk] = parent_id, name
    branch = set(
        term_model.objects.filter(vocabulary="handoff", code__startswith="transit").values_list(
            "pk", flat=True
        )
    )

    def indexed_names(term_ids):
        seen, names = set(), []
        for term_id in term_ids:
            current = term_id
            while current is not None and current not in seen:
                seen.add(current)
                names.append(name_of[current])
                current = parent_of.get(current)
        return names

    ids = sorted(
        set(link_model.objects.filter(taxonomy_term_id__in=branch).values_list("service_id", flat=True))
    )
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        terms: dict[int, list[int]] = {}
        for service_id, term_id in (
            link_model.objects.filter(service_id__in=batch)
            .order_by("pk")
            .values_list("service_id", "taxonomy_term_id")
        ):
            terms.setdefault(service_id, []).append(term_id)
        changed, words = [], set()
        for service in service_model.objects.filter(pk__in=batch).select_related("organization"):
            text = " ".join(
                [
                    service.name,
                    service.alternate_name,
                    service.organization.name,
                    *indexed_names(terms.get(service.pk, [])),
                    service.description,
                ]
            )
            if text != service.search_document:
                service.search_document = text
                changed.append(service)
                words.update(
                    w.lower() for w in re.findall(_WORD_CHARACTERS, text) if len(w) <= 64
                )
        service_model.objects.bulk_update(changed, ["search_document"])
        word_model.objects.bulk_create(
            [word_model(word=w) for w in sorted(words)], batch_size=2000, ignore_conflicts=True
        )


class Migration(migrations.Migration):
    dependencies = [("directory", "0010_search_documents_with_ancestors")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
