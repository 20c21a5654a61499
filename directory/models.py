from __future__ import annotations

import datetime
import re
import uuid
import zoneinfo
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from accounts.models import User


class OrganizationQuerySet(models.QuerySet["Organization"]):
    def for_user(self, user: User) -> OrganizationQuerySet:
        """Organizations the user is a member of (all of them for platform staff)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user).distinct()

    def receiving(self) -> OrganizationQuerySet:
        return self.filter(kind__in=[Organization.Kind.RECEIVES, Organization.Kind.BOTH])

    def referring(self) -> OrganizationQuerySet:
        return self.filter(kind__in=[Organization.Kind.REFERS, Organization.Kind.BOTH])


class Organization(models.Model):
    """An HSDS 3.0 organization, plus what kind of work it does in the portal."""

    class Kind(models.TextChoices):
        REFERS = "refers", _("Refers people (health care)")
        RECEIVES = "receives", _("Receives referrals (community services)")
        BOTH = "both", _("Refers and receives")

    # HSDS ids are UUIDs; keeping them stable makes re-import update in place.
    hsds_id = models.UUIDField(_("HSDS id"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=255)
    alternate_name = models.CharField(_("alternate name"), max_length=255, blank=True)
    description = models.TextField(_("description"), blank=True)
    email = models.EmailField(_("email"), blank=True)
    website = models.URLField(_("website"), blank=True)
    tax_id = models.CharField(
        _("tax id (EIN)"),
        max_length=32,
        blank=True,
        help_text=_("HSDS 3.0 keeps this as an organization identifier; stored here for now."),
    )
    year_incorporated = models.PositiveSmallIntegerField(
        _("year incorporated"), null=True, blank=True
    )
    legal_status = models.CharField(_("legal status"), max_length=255, blank=True)
    kind = models.CharField(
        _("work in the portal"), max_length=16, choices=Kind.choices, default=Kind.RECEIVES
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")

    def __str__(self) -> str:
        return self.name

    @property
    def refers(self) -> bool:
        return self.kind in (self.Kind.REFERS, self.Kind.BOTH)

    @property
    def receives(self) -> bool:
        return self.kind in (self.Kind.RECEIVES, self.Kind.BOTH)


# --- HSDS 3.0 objects around the organization -------------------------------------------

# Schedules are stored with an IANA time zone. Restricting them to the US zones keeps the
# open-now query a short, fixed OR (one branch per zone) instead of a lookup of distinct zones.
SUPPORTED_TIMEZONES = (
    "America/New_York",
    "America/Detroit",
    "America/Indiana/Indianapolis",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Boise",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "Pacific/Guam",
    "UTC",
)
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # index = date.weekday()


class DayMaskField(models.PositiveSmallIntegerField):
    """Weekdays as bits (Monday = bit 0), so "runs on Tuesday" is one integer test."""


@DayMaskField.register_lookup
class BitAndAny(models.Lookup):
    """``days_mask__bitand_any=4``: at least one of the given bits is set."""

    lookup_name = "bitand_any"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"({lhs} & {rhs}) <> 0", [*lhs_params, *rhs_params]


class TaxonomyTerm(models.Model):
    """A term of a service taxonomy (HSDS taxonomy_term); terms form a tree through parent."""

    hsds_id = models.UUIDField(_("HSDS id"), default=uuid.uuid4, unique=True, editable=False)
    code = models.CharField(_("code"), max_length=100)
    name = models.CharField(_("name"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
    )
    vocabulary = models.CharField(_("vocabulary"), max_length=100, default="handoff")
    term_uri = models.URLField(_("term URI"), blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("taxonomy term")
        verbose_name_plural = _("taxonomy terms")
        constraints = [
            models.UniqueConstraint(
                fields=["vocabulary", "code"], name="directory_term_code_unique_in_vocabulary"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """The name in the page's language, for the shipped taxonomy's terms (taxonomy.term_name)."""
        from directory.taxonomy import term_name

        return term_name(self.vocabulary, self.code, self.name)


class ServiceQuerySet(models.QuerySet["Service"]):
    def active(self) -> ServiceQuerySet:
        return self.filter(status=Service.Status.ACTIVE)

    def of_organization(self, organization: Organization) -> ServiceQuerySet:
        return self.filter(organization=organization)

    def accepting_referrals(self) -> ServiceQuerySet:
        """Services that take referrals now (a waitlist still takes them)."""
        return self.filter(accepts_referrals=True).exclude(capacity=Service.Capacity.NOT_ACCEPTING)

    def for_age(self, age: int) -> ServiceQuerySet:
        return self.filter(
            models.Q(minimum_age__isnull=True) | models.Q(minimum_age__lte=age),
            models.Q(maximum_age__isnull=True) | models.Q(maximum_age__gte=age),
        )

    def speaking(self, language_code: str) -> ServiceQuerySet:
        return self.filter(
            models.Exists(
                Language.objects.filter(service=models.OuterRef("pk"), code=language_code)
            )
        )

    def meeting_need(self, category_code: str) -> ServiceQuerySet:
        return self.filter(
            models.Exists(
                ServiceNeed.objects.filter(service=models.OuterRef("pk"), category=category_code)
            )
        )

    def under_terms(self, term_ids) -> ServiceQuerySet:
        return self.filter(
            models.Exists(
                ServiceTaxonomy.objects.filter(
                    service=models.OuterRef("pk"), taxonomy_term_id__in=list(term_ids)
                )
            )
        )

    def open_at(self, when) -> ServiceQuerySet:
        return self.filter(
            models.Exists(Schedule.objects.filter(service=models.OuterRef("pk")).open_at(when))
        )

    def open_on(self, weekday: int) -> ServiceQuerySet:
        return self.filter(
            models.Exists(Schedule.objects.filter(service=models.OuterRef("pk")).open_on(weekday))
        )


class Service(models.Model):
    """An HSDS 3.0 service, plus what referrals need: capacity and a response-time promise."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        INACTIVE = "inactive", _("Inactive")
        DEFUNCT = "defunct", _("Defunct")
        TEMPORARILY_CLOSED = "temporarily closed", _("Temporarily closed")

    class Capacity(models.TextChoices):
        ACCEPTING = "accepting", _("Accepting new clients")
        WAITLIST = "waitlist", _("Waitlist")
        NOT_ACCEPTING = "not_accepting", _("Not accepting new clients")

    hsds_id = models.UUIDField(_("HSDS id"), default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        on_delete=models.CASCADE,
        related_name="services",
    )
    name = models.CharField(_("name"), max_length=255)
    alternate_name = models.CharField(_("alternate name"), max_length=255, blank=True)
    description = models.TextField(_("description"), blank=True)
    url = models.URLField(_("website"), blank=True)
    email = models.EmailField(_("email"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE
    )
    interpretation_services = models.TextField(_("interpretation services"), blank=True)
    application_process = models.TextField(_("how to apply"), blank=True)
    fees_description = models.TextField(_("fees"), blank=True)
    accreditations = models.TextField(_("accreditations"), blank=True)
    eligibility_description = models.TextField(_("eligibility"), blank=True)
    minimum_age = models.PositiveSmallIntegerField(_("minimum age"), null=True, blank=True)
    maximum_age = models.PositiveSmallIntegerField(_("maximum age"), null=True, blank=True)
    alert = models.TextField(_("alert"), blank=True)
    assured_date = models.DateField(_("assured date"), null=True, blank=True)

    accepts_referrals = models.BooleanField(_("accepts referrals through Handoff"), default=True)
    capacity = models.CharField(
        _("capacity"), max_length=16, choices=Capacity.choices, default=Capacity.ACCEPTING
    )
    capacity_updated_at = models.DateTimeField(_("capacity updated"), null=True, blank=True)
    capacity_updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("capacity updated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    response_time_days = models.PositiveSmallIntegerField(
        _("response time (business days)"), default=2
    )

    taxonomy_terms = models.ManyToManyField(
        TaxonomyTerm,
        verbose_name=_("taxonomy terms"),
        through="ServiceTaxonomy",
        related_name="services",
        blank=True,
    )
    # Words of the service, its organization and its terms (and their ancestors), kept by
    # refresh_search_document().
    # PostgreSQL adds a stored tsvector column generated from it (migration 0003).
    search_document = models.TextField(editable=False, blank=True, default="")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("service")
        verbose_name_plural = _("services")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(minimum_age__isnull=True)
                | models.Q(maximum_age__isnull=True)
                | models.Q(minimum_age__lte=models.F("maximum_age")),
                name="directory_service_age_range_ordered",
            )
        ]
        indexes = [
            # The accepting-referrals filter of every search.
            models.Index(
                fields=["status", "accepts_referrals", "capacity"], name="dir_service_status_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def set_capacity(self, capacity: str, *, by) -> None:
        """Record a new capacity with who changed it and when."""
        self.capacity = capacity
        self.capacity_updated_at = timezone.now()
        self.capacity_updated_by = by
        self.save(
            update_fields=["capacity", "capacity_updated_at", "capacity_updated_by", "updated_at"]
        )

    def refresh_search_document(self) -> None:
        """Rebuild the searchable words and the need categories from the current terms."""
        refresh_search_documents(Service.objects.filter(pk=self.pk))


class ServiceTaxonomy(models.Model):
    """A taxonomy term on a service (HSDS 3.0 `attribute` row with link_entity=service)."""

    hsds_id = models.UUIDField(_("HSDS id"), default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    taxonomy_term = models.ForeignKey(TaxonomyTerm, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("service taxonomy term")
        verbose_name_plural = _("service taxonomy terms")
        constraints = [
            models.UniqueConstraint(
                fields=["service", "taxonomy_term"], name="directory_service_term_unique"
            )
        ]
        indexes = [
            # The "under taxonomy term" filter: EXISTS(term_id IN (...) AND service_id = s.id).
            models.Index(fields=["taxonomy_term", "service"], name="dir_servicetax_term_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} → {self.taxonomy_term_id}"


class ServiceNeed(models.Model):
    """Derived: an SDOH category a service meets, from its terms and the shipped mapping.

    Kept so a need filter and the need facet are one indexed lookup instead of a walk of the
    taxonomy per search. Rebuilt by refresh_search_documents().
    """

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="needs")
    category = models.CharField(_("SDOH category"), max_length=64)

    class Meta:
        verbose_name = _("need met by a service")
        verbose_name_plural = _("needs met by services")
        constraints = [
            models.UniqueConstraint(
                fields=["service", "category"], name="directory_service_need_unique"
            )
        ]
        indexes = [
            # The need filter (EXISTS … category = %s) and the need facet (GROUP BY category).
            models.Index(fields=["category", "service"], name="dir_serviceneed_cat_idx"),
        ]

    def __str__(self) -> str:
        return self.category


class Location(models.Model):
    """An HSDS 3.0 location with its (single, physical) address and coordinates."""

    class Type(models.TextChoices):
        PHYSICAL = "physical", _("Physical")
        POSTAL = "postal", _("Postal")
        VIRTUAL = "virtual", _("Virtual")

    hsds_id = models.UUIDField(_("HSDS id"), default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="locations",
    )
    location_type = models.CharField(
        _("location type"), max_length=16, choices=Type.choices, default=Type.PHYSICAL
    )
    name = models.CharField(_("name"), max_length=255, blank=True)
    description = models.TextField(_("description"), blank=True)
    transportation = models.TextField(_("transportation"), blank=True)
    accessibility = models.TextField(_("accessibility"), blank=True)
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    address_hsds_id = models.UUIDField(_("address HSDS id"), default=uuid.uuid4, editable=False)
    address_1 = models.CharField(_("address"), max_length=255, blank=True)
    address_2 = models.CharField(_("address line 2"), max_length=255, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    state_province = models.CharField(_("state"), max_length=100, blank=True)
    postal_code = models.CharField(_("ZIP code"), max_length=20, blank=True)
    country = models.CharField(_("country"), max_length=2, default="US")

    class Meta:
        ordering = ["name"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(latitude__isnull=True) | models.Q(latitude__gte=-90, latitude__lte=90)
                )
                & (
                    models.Q(longitude__isnull=True)
                    | models.Q(longitude__gte=-180, longitude__lte=180)
                ),
                name="directory_location_coordinates_valid",
            )
        ]
        indexes = [
            # Distance search: the bounding-box prefilter (latitude range, then longitude).
            models.Index(fields=["latitude", "longitude"], name="dir_location_latlng_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.address_1 or str(self.hsds_id)

    @property
    def one_line_address(self) -> str:
        parts = [self.address_1, self.address_2, self.city]
        state_zip = " ".join(p for p in (self.state_province, self.postal_code) if p)
        return ", ".join(p for p in [*parts, state_zip] if p)


class ServiceAtLocation(models.Model):
    hsds_id = models.UUIDField(_("HSDS id"), default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(
        Service,
        verbose_name=_("service"),
        on_delete=models.CASCADE,
        related_name="service_at_locations",
    )
    location = models.ForeignKey(
        Location,
        verbose_name=_("location"),
        on_delete=models.CASCADE,
        related_name="service_at_locations",
    )
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("service at location")
        verbose_name_plural = _("services at locations")
        constraints = [
            models.UniqueConstraint(
                fields=["service", "location"], name="directory_service_at_location_unique"
            )
        ]
        indexes = [
            # Distance search joins locations in the box back to their services.
            models.Index(fields=["location", "service"], name="dir_sal_location_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service} @ {self.location}"


class Phone(models.Model):
    hsds_id = models.UUIDField(_("HSDS id"), default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="phones"
    )
    number = models.CharField(_("number"), max_length=40)
    extension = models.CharField(_("extension"), max_length=20, blank=True)
    type = models.CharField(_("type"), max_length=20, blank=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("phone")
        verbose_name_plural = _("phones")

    def __str__(self) -> str:
        return self.number + (f" x{self.extension}" if self.extension else "")


class ScheduleQuerySet(models.QuerySet["Schedule"]):
    def open_at(self, when) -> ScheduleQuerySet:
        """Weekly schedules open at the aware datetime ``when``, each in its own time zone.

        A schedule whose closes_at is not after opens_at runs past midnight into the next
        day (22:00–06:00); opens_at == closes_at means around the clock.
        """
        condition = models.Q(pk__in=[])
        for tzname in SUPPORTED_TIMEZONES:
            local = when.astimezone(zoneinfo.ZoneInfo(tzname))
            t = local.time().replace(tzinfo=None)
            today = 1 << local.weekday()
            yesterday = 1 << ((local.weekday() - 1) % 7)
            overnight = models.Q(closes_at__lte=models.F("opens_at"))
            condition |= models.Q(timezone=tzname) & (
                (
                    models.Q(days_mask__bitand_any=today)
                    & models.Q(opens_at__lte=t)
                    & (models.Q(closes_at__gt=t) | overnight)
                )
                | (
                    models.Q(days_mask__bitand_any=yesterday)
                    & overnight
                    & models.Q(closes_at__gt=t)
                )
            )
        date = when.date()
        return self.filter(
            condition,
            models.Q(valid_from__isnull=True) | models.Q(valid_from__lte=date),
            models.Q(valid_to__isnull=True) | models.Q(valid_to__gte=date),
        )

    def open_on(self, weekday: int) -> ScheduleQuerySet:
        return self.filter(days_mask__bitand_any=1 << weekday)


class Schedule(models.Model):
    """Weekly opening hours (HSDS schedule, iCalendar style: freq WEEKLY, byday, times)."""

    hsds_id = models.UUIDField(_("HSDS id"), default=uuid.uuid4, unique=True, editable=False)
    # A schedule of a service at one location also points at the service, so "open now"
    # is one indexed EXISTS per service.
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="schedules"
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="schedules"
    )
    service_at_location = models.ForeignKey(
        ServiceAtLocation, null=True, blank=True, on_delete=models.CASCADE, related_name="schedules"
    )
    freq = models.CharField(_("frequency"), max_length=10, default="WEEKLY", editable=False)
    byday = models.CharField(_("days"), max_length=40, help_text=_("For example MO,TU,WE"))
    days_mask = DayMaskField(default=0, editable=False)
    opens_at = models.TimeField(_("opens at"))
    closes_at = models.TimeField(_("closes at"))
    timezone = models.CharField(
        _("time zone"),
        max_length=40,
        choices=[(z, z) for z in SUPPORTED_TIMEZONES],
        default="America/New_York",
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    description = models.TextField(_("description"), blank=True)

    objects = ScheduleQuerySet.as_manager()

    class Meta:
        ordering = ["days_mask", "opens_at"]
        verbose_name = _("schedule")
        verbose_name_plural = _("schedules")
        indexes = [
            # Open-now: EXISTS(schedule of this service open at t).
            models.Index(fields=["service", "timezone"], name="dir_schedule_service_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.byday} {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"

    def save(self, *args, **kwargs) -> None:
        self.days_mask = self.mask_for(self.byday)
        if self.service_at_location_id and not self.service_id:
            self.service_id = self.service_at_location.service_id
        super().save(*args, **kwargs)

    @staticmethod
    def mask_for(byday: str) -> int:
        """Bit i set for weekday i (Monday = 0); raises ValueError on an unknown day."""
        mask = 0
        for day in filter(None, (d.strip().upper() for d in byday.split(","))):
            mask |= 1 << WEEKDAYS.index(day)
        return mask

    @property
    def overnight(self) -> bool:
        return self.closes_at <= self.opens_at

    @property
    def all_day(self) -> bool:
        """Midnight to midnight: open around the clock on its days."""
        return self.opens_at == self.closes_at == datetime.time(0)

    def is_open_at(self, when) -> bool:
        """The Python twin of ScheduleQuerySet.open_at, for prefetched schedules."""
        local = when.astimezone(zoneinfo.ZoneInfo(self.timezone))
        date = local.date()
        if (self.valid_from and date < self.valid_from) or (self.valid_to and date > self.valid_to):
            return False
        t = local.time().replace(tzinfo=None)
        today = self.days_mask & (1 << local.weekday())
        yesterday = self.days_mask & (1 << ((local.weekday() - 1) % 7))
        if today and self.opens_at <= t and (self.closes_at > t or self.overnight):
            return True
        return bool(yesterday and self.overnight and t < self.closes_at)

    def runs_on(self, weekday: int) -> bool:
        return bool(self.days_mask & (1 << weekday))


class Language(models.Model):
    hsds_id = models.UUIDField(_("HSDS id"), default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="languages"
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.CASCADE, related_name="languages"
    )
    phone = models.ForeignKey(
        Phone, null=True, blank=True, on_delete=models.CASCADE, related_name="languages"
    )
    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code (ISO 639)"), max_length=10)

    class Meta:
        ordering = ["name"]
        verbose_name = _("language")
        verbose_name_plural = _("languages")
        indexes = [
            # The language filter and the language facet (GROUP BY code).
            models.Index(fields=["code", "service"], name="dir_language_code_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class ServiceArea(models.Model):
    class ExtentType(models.TextChoices):
        GEOJSON = "geojson", "GeoJSON"
        TOPOJSON = "topojson", "TopoJSON"
        KML = "kml", "KML"
        TEXT = "text", _("Text (ZIP codes, counties)")

    hsds_id = models.UUIDField(_("HSDS id"), default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="service_areas")
    name = models.CharField(_("name"), max_length=255, blank=True)
    description = models.TextField(_("description"), blank=True)
    extent = models.TextField(_("extent"), blank=True)
    extent_type = models.CharField(
        _("extent type"), max_length=10, choices=ExtentType.choices, default=ExtentType.TEXT
    )

    class Meta:
        verbose_name = _("service area")
        verbose_name_plural = _("service areas")

    def __str__(self) -> str:
        return self.name or self.extent[:40]


class CostOption(models.Model):
    hsds_id = models.UUIDField(_("HSDS id"), default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="cost_options")
    option = models.CharField(_("option"), max_length=255, blank=True)
    amount = models.DecimalField(
        _("amount"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    amount_description = models.TextField(_("amount description"), blank=True)

    class Meta:
        verbose_name = _("cost option")
        verbose_name_plural = _("cost options")

    def __str__(self) -> str:
        return self.option or str(self.amount)


class RequiredDocument(models.Model):
    hsds_id = models.UUIDField(_("HSDS id"), default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="required_documents"
    )
    document = models.CharField(_("document"), max_length=255)
    uri = models.URLField(_("link"), blank=True)

    class Meta:
        verbose_name = _("required document")
        verbose_name_plural = _("required documents")

    def __str__(self) -> str:
        return self.document


class SearchWord(models.Model):
    """Every word of every search document: the lexicon typo correction picks from."""

    word = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("search word")
        verbose_name_plural = _("search words")

    def __str__(self) -> str:
        return self.word


_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)


def words_of(text: str) -> list[str]:
    return [w.lower() for w in _WORD_RE.findall(text) if len(w) <= 64]


def search_text(
    name: str,
    alternate_name: str,
    organization_name: str,
    term_names,
    description: str,
    need_names=(),
) -> str:
    """The words a service is found by: its names, its organization's, its terms' (with their
    ancestors', TermTree.indexed_names), the needs they meet (taxonomy.need_search_names) and
    its description."""
    return " ".join(
        [name, alternate_name, organization_name, *term_names, *need_names, description]
    )


def refresh_search_documents(services: models.QuerySet[Service], *, batch_size: int = 1000) -> None:
    """Rebuild search_document, the derived ServiceNeed rows and the word lexicon."""
    from directory.taxonomy import TermTree, need_search_names

    tree = TermTree.load()
    all_ids = list(services.order_by().values_list("pk", flat=True))
    # Batches keep every IN list under SQLite's limit on query parameters.
    for start in range(0, len(all_ids), batch_size):
        _refresh_batch(all_ids[start : start + batch_size], tree, need_search_names)


def services_under_terms(term_ids: Iterable[int]) -> models.QuerySet[Service]:
    """Services linked to these terms or to any of their descendants."""
    from directory.taxonomy import TermTree

    under = TermTree.load().with_descendants(term_ids)
    return Service.objects.filter(
        pk__in=ServiceTaxonomy.objects.filter(taxonomy_term_id__in=under).values("service_id")
    )


def _refresh_batch(ids: list[int], tree, need_search_names) -> None:
    terms_by_service: dict[int, list[int]] = {}
    # In the order the terms were linked, whatever plan the database picks: the document
    # (and so each word's position in the search vector) is the same on every rebuild.
    for service_id, term_id in (
        ServiceTaxonomy.objects.filter(service_id__in=ids)
        .order_by("pk")
        .values_list("service_id", "taxonomy_term_id")
    ):
        terms_by_service.setdefault(service_id, []).append(term_id)
    changed, needs, lexicon = [], [], set()
    for service in (
        Service.objects.filter(pk__in=ids)
        .select_related("organization")
        .only("pk", "name", "alternate_name", "description", "organization__name")
    ):
        terms = terms_by_service.get(service.pk, [])
        met = tree.needs_for_terms(terms)
        text = search_text(
            service.name,
            service.alternate_name,
            service.organization.name,
            tree.indexed_names(terms),
            service.description,
            need_search_names(met),
        )
        lexicon.update(words_of(text))
        service.search_document = text
        changed.append(service)
        needs.extend(ServiceNeed(service_id=service.pk, category=code) for code in met)
    Service.objects.bulk_update(changed, ["search_document"])
    ServiceNeed.objects.filter(service_id__in=ids).delete()
    ServiceNeed.objects.bulk_create(needs)
    SearchWord.objects.bulk_create(
        [SearchWord(word=w) for w in sorted(lexicon)], batch_size=2000, ignore_conflicts=True
    )


from directory.hsds.models import ImportJob  # noqa: E402, F401  (HSDS import jobs belong to this app)
