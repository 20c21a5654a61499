"""Search documents name the needs a service meets, as the portal and the clinic call them.

Searching "food insecurity" or "housing instability" (a screening result's words, an EHR's)
or "financial strain" (a screening tool's) found nothing: a document held the service's
terms, not the needs they meet. Appends each
need's words (directory.taxonomy.need_search_names, frozen here as it was when this migration
was made) after the terms' names, and rewrites the documents that change, in 0010's way; on
PostgreSQL the triggers (0005) rewrite each changed service's search row.
"""

import re

from django.db import migrations

BATCH = 1000
_WORD_CHARACTERS = r"[^\W_]+"
NEED_WORDS = {
    "food-insecurity": "Food insecurity hunger",
    "housing-instability": "Housing instability living situation",
    "homelessness": "Homelessness",
    "inadequate-housing": "Unsafe or inadequate housing",
    "transportation-insecurity": "Transportation insecurity",
    "financial-insecurity": "Money financial insecurity strain",
    "material-hardship": "Material hardship",
    "educational-attainment": "Education educational attainment",
    "employment-status": "Employment",
    "veteran-status": "Veterans veteran",
    "stress": "Stress",
    "social-connection": "Social connection isolation loneliness",
    "intimate-partner-violence": "Intimate partner violence interpersonal safety domestic",
    "elder-abuse": "Elder abuse",
    "personal-health-literacy": "Health literacy personal",
    "health-insurance-coverage-status": "Health insurance coverage",
    "medical-cost-burden": "Medical costs cost burden",
    "digital-literacy": "Digital skills literacy",
    "digital-access": "Internet and devices digital access",
    "utility-insecurity": "Utilities utility insecurity",
    "incarceration-status": "Reentry after incarceration",
    "language-access": "Language access",
    "protective-factor": "Protective factors factor",
    "sdoh-category-unspecified": "Other social needs",
}


def forward(apps, schema_editor):
    service_model = apps.get_model("directory", "Service")
    link_model = apps.get_model("directory", "ServiceTaxonomy")
    need_model = apps.get_model("directory", "ServiceNeed")
    term_model = apps.get_model("directory", "TaxonomyTerm")
    word_model = apps.get_model("directory", "SearchWord")

    parent_of, name_of = {}, {}
    for pk, name, parent_id in term_model.objects.values_list("pk", "name", "parent_id"):
        parent_of[pk], name_of[pk] = parent_id, name

    def indexed_names(term_ids):
        seen, names = set(), []
        for term_id in term_ids:
            current = term_id
            while current is not None and current not in seen:
                seen.add(current)
                names.append(name_of[current])
                current = parent_of.get(current)
        return names

    ids = list(service_model.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        terms: dict[int, list[int]] = {}
        for service_id, term_id in (
            link_model.objects.filter(service_id__in=batch)
            .order_by("pk")
            .values_list("service_id", "taxonomy_term_id")
        ):
            terms.setdefault(service_id, []).append(term_id)
        needs: dict[int, list[str]] = {}
        for service_id, code in need_model.objects.filter(service_id__in=batch).values_list(
            "service_id", "category"
        ):
            needs.setdefault(service_id, []).append(code)
        changed, words = [], set()
        for service in service_model.objects.filter(pk__in=batch).select_related("organization"):
            text = " ".join(
                [
                    service.name,
                    service.alternate_name,
                    service.organization.name,
                    *indexed_names(terms.get(service.pk, [])),
                    *(NEED_WORDS[c] for c in sorted(needs.get(service.pk, [])) if c in NEED_WORDS),
                    service.description,
                ]
            )
            if text != service.search_document:
                service.search_document = text
                changed.append(service)
                words.update(w.lower() for w in re.findall(_WORD_CHARACTERS, text) if len(w) <= 64)
        service_model.objects.bulk_update(changed, ["search_document"])
        word_model.objects.bulk_create(
            [word_model(word=w) for w in sorted(words)], batch_size=2000, ignore_conflicts=True
        )


class Migration(migrations.Migration):
    dependencies = [("directory", "0011_transportation_term")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
