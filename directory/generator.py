"""A realistic synthetic directory for demos and benchmarks, deterministic for a seed.

Locations sit at real ZIP centroids (offline `zipcodes` data) of the Boston metro area, where
the demo clinic is (ZIP 02118). Services hang under real terms of the shipped taxonomy.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from functools import cache

import zipcodes
from django.db import transaction

from directory.models import (
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    SearchWord,
    Service,
    ServiceAtLocation,
    ServiceNeed,
    ServiceTaxonomy,
    TaxonomyTerm,
    search_text,
    words_of,
)
from directory.search import deferred_search_rows
from directory.taxonomy import TermTree, load_taxonomy, need_search_names

METRO_ZIP_PREFIXES = ("021", "022", "024", "019")  # Boston, its inner suburbs, the North Shore
METRO_STATE = "MA"
METRO_TIMEZONE = "America/New_York"
HOME_ZIP = "02118"  # the demo clinic's ZIP (South End, Boston)

NEIGHBORHOODS = [
    "South End",
    "Roxbury",
    "Dorchester",
    "Mattapan",
    "Jamaica Plain",
    "East Boston",
    "Chelsea",
    "Revere",
    "Cambridgeport",
    "Somerville",
    "Allston",
    "Brighton",
    "Hyde Park",
    "Roslindale",
    "Charlestown",
    "Quincy",
    "Malden",
    "Everett",
    "Lynn",
    "Waltham",
]
# What each kind of organization does (the taxonomy's top-level codes): its services come
# from these, so a legal collaborative gives legal help and a food bank food, not each other's.
ORG_KINDS: dict[str, tuple[str, ...]] = {
    "Community Action": ("money", "utilities", "food", "housing", "goods", "work", "education"),
    "Neighborhood House": ("food", "goods", "education", "care", "connection"),
    "Family Services": ("care", "health", "money", "food", "connection"),
    "Community Center": ("education", "connection", "food", "goods", "transit"),
    "Mutual Aid Network": ("food", "goods", "emergency", "transit"),
    "Health Partners": ("health", "care-coordination", "transit", "care"),
    "Interfaith Council": ("food", "emergency", "housing", "goods"),
    "Youth Alliance": ("education", "work", "connection", "care"),
    "Senior Services": ("care", "transit", "food", "health", "connection"),
    "Legal Collaborative": ("legal",),
    "Housing Partnership": ("housing", "emergency", "utilities", "money"),
    "Outreach Project": ("emergency", "housing", "health", "connection"),
    "Food Bank": ("food", "emergency"),
    "Workforce Center": ("work", "education", "money"),
}
STREETS = [
    "Washington St",
    "Tremont St",
    "Harrison Ave",
    "Blue Hill Ave",
    "Columbia Rd",
    "Centre St",
    "Dudley St",
    "Massachusetts Ave",
    "Broadway",
    "Main St",
    "Dorchester Ave",
    "Boylston St",
    "Hyde Park Ave",
    "Meridian St",
    "Cambridge St",
]
LANGUAGE_WEIGHTS = [
    ("es", "Spanish", 0.45),
    ("pt", "Portuguese", 0.15),
    ("ht", "Haitian Creole", 0.15),
    ("zh", "Chinese", 0.12),
    ("vi", "Vietnamese", 0.10),
    ("ru", "Russian", 0.05),
    ("ar", "Arabic", 0.06),
    ("so", "Somali", 0.04),
    ("asl", "American Sign Language", 0.03),
]
# (byday, opens, closes) sets, with weights; overnight and around-the-clock included.
HOURS_PATTERNS: list[tuple[float, list[tuple[str, time, time]]]] = [
    (0.40, [("MO,TU,WE,TH,FR", time(9), time(17))]),
    (0.15, [("MO,TU,WE,TH", time(8), time(20)), ("FR", time(8), time(16))]),
    (0.10, [("TU,TH", time(10), time(14)), ("SA", time(9), time(12))]),
    (0.08, [("MO,TU,WE,TH,FR,SA,SU", time(19), time(7))]),  # overnight shelter
    (0.05, [("MO,TU,WE,TH,FR,SA,SU", time(0), time(0))]),  # around the clock
    (0.12, [("MO,WE,FR", time(9), time(13)), ("MO,WE,FR", time(14), time(18))]),
    (0.10, []),  # no hours listed: call first
]


@cache
def metro_zips() -> list[tuple[str, float, float, str]]:
    """(zip, lat, lng, city) of standard ZIP codes in the metro area, in ZIP order."""
    rows = []
    for z in zipcodes.filter_by(state=METRO_STATE):
        if z["zip_code"].startswith(METRO_ZIP_PREFIXES) and z.get("zip_code_type") == "STANDARD":
            rows.append((z["zip_code"], float(z["lat"]), float(z["long"]), z["city"].title()))
    return sorted(rows)


@dataclass
class GeneratedCounts:
    organizations: int = 0
    services: int = 0
    locations: int = 0


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def generate_directory(
    services: int,
    seed: int = 1,
    *,
    locations_per_service: float = 0.6,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 2000,
) -> GeneratedCounts:
    """Create ``services`` services (and their organizations, locations, hours, languages).

    The same seed and size always give the same rows, ids included.
    """
    load_taxonomy()
    rng = random.Random(seed)
    tree = TermTree.load()
    terms = list(
        TaxonomyTerm.objects.filter(vocabulary="handoff", parent__isnull=False).values_list(
            "pk", "name", "code", "description"
        )
    )
    zips = metro_zips()
    n_locations = max(1, round(services * locations_per_service))
    n_orgs = max(1, services // 5)
    counts = GeneratedCounts()
    done = 0
    with transaction.atomic(), deferred_search_rows():
        orgs = []
        kinds = list(ORG_KINDS)
        org_kinds = []
        named: dict[str, int] = {}
        for i in range(n_orgs):
            kind = rng.choice(kinds)
            org_kinds.append(kind)
            name = f"{rng.choice(NEIGHBORHOODS)} {kind}"
            named[name] = named.get(name, 0) + 1
            if named[name] > 1:  # a number only to tell apart organizations of the same name
                name = f"{name} {named[name]}"
            orgs.append(
                Organization(
                    hsds_id=_uuid(rng),
                    name=name,
                    description=f"{name} serves families across greater Boston.",
                    email=f"info@org{i + 1}.example.org",
                    kind=Organization.Kind.RECEIVES,
                )
            )
        Organization.objects.bulk_create(orgs, batch_size=batch_size)
        counts.organizations = len(orgs)
        locations = []
        for i in range(n_locations):
            zip_code, lat, lng, city = rng.choice(zips)
            org = orgs[i % n_orgs]
            locations.append(
                Location(
                    hsds_id=_uuid(rng),
                    address_hsds_id=_uuid(rng),
                    organization=org,
                    name=f"{org.name} – {city}",
                    address_1=f"{rng.randint(1, 1999)} {rng.choice(STREETS)}",
                    city=city,
                    state_province=METRO_STATE,
                    postal_code=zip_code,
                    # Spread within about half a mile of the ZIP centroid.
                    latitude=round(lat + rng.uniform(-0.007, 0.007), 6),
                    longitude=round(lng + rng.uniform(-0.009, 0.009), 6),
                )
            )
        Location.objects.bulk_create(locations, batch_size=batch_size)
        counts.locations = len(locations)
        locations_of_org: dict[int, list[Location]] = {}
        for location in locations:
            locations_of_org.setdefault(location.organization_id, []).append(location)

        # A service's second term is a neighbour of its first (a food pantry that also delivers
        # meals), not any other service (translation under homelessness).
        terms_by_category: dict[str, list] = {}
        for term in terms:
            terms_by_category.setdefault(term[2].split(".")[0], []).append(term)
        terms_of_kind = {
            kind: [t for category in categories for t in terms_by_category.get(category, [])]
            for kind, categories in ORG_KINDS.items()
        }
        lexicon: set[str] = set()
        for start in range(0, services, batch_size):
            batch = []
            extras = []  # per service: (terms, needs, hours, languages, locations)
            for i in range(start, min(services, start + batch_size)):
                org = orgs[i % n_orgs]
                term_pk, term_name, term_code, term_description = rng.choice(
                    terms_of_kind[org_kinds[i % n_orgs]]
                )
                second = (
                    rng.choice(terms_by_category[term_code.split(".")[0]])
                    if rng.random() < 0.3
                    else None
                )
                service_terms = [(term_pk, term_name)] + (
                    [(second[0], second[1])] if second and second[0] != term_pk else []
                )
                roll = rng.random()
                ages = (None, 17) if roll < 0.1 else (60, None) if roll < 0.2 else (None, None)
                org_locations = locations_of_org.get(org.pk) or [rng.choice(locations)]
                at = rng.sample(org_locations, k=min(len(org_locations), rng.choice([1, 1, 1, 2])))
                name = f"{term_name} – {at[0].city}"  # named for where it is
                description = f"{term_name} for residents of greater Boston. " + (
                    term_description or f"Part of {org.name}'s work."
                )
                met = tree.needs_for_terms(pk for pk, _ in service_terms)
                capacity = rng.choices(
                    [
                        Service.Capacity.ACCEPTING,
                        Service.Capacity.WAITLIST,
                        Service.Capacity.NOT_ACCEPTING,
                    ],
                    [0.7, 0.2, 0.1],
                )[0]
                service = Service(
                    hsds_id=_uuid(rng),
                    organization=org,
                    name=name,
                    description=description,
                    minimum_age=ages[0],
                    maximum_age=ages[1],
                    eligibility_description="Youth up to 17."
                    if ages[1]
                    else "Adults 60 and older."
                    if ages[0]
                    else "",
                    accepts_referrals=rng.random() < 0.85,
                    capacity=capacity,
                    response_time_days=rng.choice([1, 1, 2, 2, 3, 5]),
                    search_document=search_text(
                        name,
                        "",
                        org.name,
                        tree.indexed_names(pk for pk, _ in service_terms),
                        description,
                        need_search_names(met),
                    ),
                )
                lexicon.update(words_of(service.search_document))
                hours = rng.choices([p for _, p in HOURS_PATTERNS], [w for w, _ in HOURS_PATTERNS])[
                    0
                ]
                languages = [("en", "English")] + [
                    (c, n) for c, n, w in LANGUAGE_WEIGHTS if rng.random() < w
                ]
                batch.append(service)
                extras.append((service_terms, met, hours, languages, at))
            Service.objects.bulk_create(batch)
            rows_terms, rows_needs, rows_sal, rows_hours, rows_langs, rows_phones = (
                [],
                [],
                [],
                [],
                [],
                [],
            )
            for service, (service_terms, met, hours, languages, at) in zip(
                batch, extras, strict=True
            ):
                for term_pk, _name in service_terms:
                    rows_terms.append(
                        ServiceTaxonomy(
                            hsds_id=_uuid(rng), service=service, taxonomy_term_id=term_pk
                        )
                    )
                for code in met:
                    rows_needs.append(ServiceNeed(service=service, category=code))
                for location in at:
                    rows_sal.append(
                        ServiceAtLocation(hsds_id=_uuid(rng), service=service, location=location)
                    )
                for byday, opens, closes in hours:
                    rows_hours.append(
                        Schedule(
                            hsds_id=_uuid(rng),
                            service=service,
                            byday=byday,
                            days_mask=Schedule.mask_for(byday),
                            opens_at=opens,
                            closes_at=closes,
                            timezone=METRO_TIMEZONE,
                        )
                    )
                for code, lang_name in languages:
                    rows_langs.append(
                        Language(hsds_id=_uuid(rng), service=service, code=code, name=lang_name)
                    )
                rows_phones.append(
                    Phone(
                        hsds_id=_uuid(rng),
                        service=service,
                        number=f"617-555-{rng.randint(0, 9999):04d}",
                        type="voice",
                    )
                )
            for model, rows in (
                (ServiceTaxonomy, rows_terms),
                (ServiceNeed, rows_needs),
                (ServiceAtLocation, rows_sal),
                (Schedule, rows_hours),
                (Language, rows_langs),
                (Phone, rows_phones),
            ):
                model.objects.bulk_create(rows, batch_size=batch_size)
            done += len(batch)
            if progress:
                progress(done, services)
        SearchWord.objects.bulk_create(
            [SearchWord(word=w) for w in sorted(lexicon)],
            batch_size=batch_size,
            ignore_conflicts=True,
        )
    counts.services = done
    return counts
