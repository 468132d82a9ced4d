"""OAI-PMH 2.0 provider: the six verbs over the published 开放档案目录, and every protocol error.

What is exposed is exactly the set membership of :mod:`lantai.appraisal.publication.oai`: records
that were ever published (上网审查 approved), in their masked public form; a record unpublished,
no longer 开放 or withdrawn is a deleted record (``deletedRecord=persistent``). Sets are ``open``
and ``open:fonds:<全宗号>``. Identifiers are ``oai:<档案馆代码>:<档号>`` (the record's uid when it
has no 档号).

Lists are paged by keyset on ``published_records (datestamp, record_id)`` with stateless signed
resumption tokens (:mod:`lantai.oai.tokens`), so a page costs the same wherever it is in a list
of a million records and a token survives a restart. Responses are built per page with lxml.

Errors follow the protocol (section 3.6): ``badVerb`` and ``badArgument`` echo the base URL only;
the others echo the request's arguments. ``noSetHierarchy`` never applies (sets exist).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from lxml import etree
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lantai.appraisal.publication.oai import (
    OPEN_SET,
    SetMember,
    count_open_catalogue_page,
    list_open_catalogue_sets,
    open_catalogue_member,
    open_catalogue_page,
)
from lantai.errors import NotFound, ValidationFailed
from lantai.instance import Instance
from lantai.oai.metadata import FORMATS, EadBuilder, PublicRecord, oai_dc_element
from lantai.oai.tokens import BadToken, PageToken, load_signer
from lantai.store import PublishedRecord, Record, utcnow

__all__ = ["OAI_NS", "OaiProvider", "format_datestamp", "oai_identifier"]

OAI_NS: Final = "http://www.openarchives.org/OAI/2.0/"
XSI_NS: Final = "http://www.w3.org/2001/XMLSchema-instance"
_SCHEMA: Final = f"{OAI_NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
_FONDS_SET: Final = "open:fonds:"

# verb → (required arguments, optional arguments); resumptionToken is exclusive where allowed.
_ARGS: Final[dict[str, tuple[frozenset[str], frozenset[str]]]] = {
    "Identify": (frozenset(), frozenset()),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"})),
    "ListSets": (frozenset(), frozenset({"resumptionToken"})),
    "ListIdentifiers": (
        frozenset({"metadataPrefix"}),
        frozenset({"from", "until", "set", "resumptionToken"}),
    ),
    "ListRecords": (
        frozenset({"metadataPrefix"}),
        frozenset({"from", "until", "set", "resumptionToken"}),
    ),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset()),
}


def _q(tag: str) -> str:
    return f"{{{OAI_NS}}}{tag}"


def format_datestamp(stamp: datetime) -> str:
    """UTC, second granularity, as OAI-PMH wants: 2026-11-21T08:00:00Z."""
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OaiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _Window:
    prefix: str
    set_spec: str | None
    since_text: str | None
    until_text: str | None
    since: datetime | None
    until: datetime | None


def _parse_date(text: str, *, end: bool) -> tuple[datetime, str]:
    """(bound, granularity) of an OAI-PMH UTCdatetime argument; badArgument when not one."""
    for fmt, gran in (("%Y-%m-%dT%H:%M:%SZ", "seconds"), ("%Y-%m-%d", "day")):
        try:
            value = datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        if end:  # until is inclusive: the whole second / day
            value += timedelta(days=1) if gran == "day" else timedelta(seconds=1)
            value -= timedelta(microseconds=1)
        return value, gran
    raise OaiError(
        "badArgument",
        f"Illegal date '{text}': use YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ (UTC)",
    )


def _window(prefix: str, set_spec: str | None, since: str | None, until: str | None) -> _Window:
    lo = _parse_date(since, end=False) if since else None
    hi = _parse_date(until, end=True) if until else None
    if lo and hi:
        if lo[1] != hi[1]:
            raise OaiError("badArgument", "from and until have different granularities")
        if lo[0] > hi[0]:
            raise OaiError("badArgument", "from is later than until")
    return _Window(prefix, set_spec, since, until, lo[0] if lo else None, hi[0] if hi else None)


class OaiProvider:
    """Answers OAI-PMH requests for one instance (cheap to build; build one per request)."""

    def __init__(self, inst: Instance, base_url: str, *, page_size: int | None = None) -> None:
        self.inst = inst
        self.base_url = inst.settings.oai_base_url or base_url
        self.page_size = page_size or inst.settings.oai_page_size
        self.namespace = inst.settings.archive_code or "lantai"
        self.signer = load_signer(inst.settings.secrets_dir)
        self._verbs: dict[str, Callable[[Session, dict[str, str]], etree._Element]] = {
            "Identify": self._identify,
            "ListMetadataFormats": self._list_metadata_formats,
            "ListSets": self._list_sets,
            "ListIdentifiers": self._list_identifiers,
            "ListRecords": self._list_records,
            "GetRecord": self._get_record,
        }

    # -- entry point -------------------------------------------------------------------------------

    def respond(self, params: Sequence[tuple[str, str]], *, now: datetime | None = None) -> bytes:
        """The complete XML response to a request given as (name, value) pairs."""
        root = etree.Element(_q("OAI-PMH"), nsmap={None: OAI_NS, "xsi": XSI_NS})
        root.set(f"{{{XSI_NS}}}schemaLocation", _SCHEMA)
        etree.SubElement(root, _q("responseDate")).text = format_datestamp(now or utcnow())
        request = etree.SubElement(root, _q("request"))
        request.text = self.base_url
        try:
            verb, args = self._check(params)
            for name, value in sorted(args.items()):
                request.set(name, value)
            request.set("verb", verb)
            with self.inst.db.read() as s:
                root.append(self._verbs[verb](s, args))
        except OaiError as exc:
            if exc.code in ("badVerb", "badArgument"):
                request.attrib.clear()
            etree.SubElement(root, _q("error"), code=exc.code).text = exc.message
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    @staticmethod
    def _check(params: Sequence[tuple[str, str]]) -> tuple[str, dict[str, str]]:
        seen: dict[str, str] = {}
        repeated: set[str] = set()
        for name, value in params:
            if name in seen:
                repeated.add(name)
            seen[name] = value
        verb = seen.pop("verb", None)
        if verb is None:
            raise OaiError("badVerb", "Missing verb argument")
        if "verb" in repeated:
            raise OaiError("badVerb", "The verb argument is repeated")
        if verb not in _ARGS:
            raise OaiError("badVerb", f"Illegal verb '{verb}'")
        if repeated:
            raise OaiError("badArgument", f"Repeated argument: {', '.join(sorted(repeated))}")
        required, optional = _ARGS[verb]
        illegal = set(seen) - required - optional
        if illegal:
            raise OaiError("badArgument", f"Illegal argument: {', '.join(sorted(illegal))}")
        if "resumptionToken" in seen:
            if len(seen) > 1:
                raise OaiError("badArgument", "resumptionToken is an exclusive argument")
            return verb, seen
        missing = required - set(seen)
        if missing:
            raise OaiError("badArgument", f"Missing argument: {', '.join(sorted(missing))}")
        return verb, seen

    # -- verbs -------------------------------------------------------------------------------------

    def _identify(self, s: Session, args: dict[str, str]) -> etree._Element:
        settings = self.inst.settings
        el = etree.Element(_q("Identify"))
        earliest = s.scalar(select(func.min(PublishedRecord.datestamp)))
        for tag, text in (
            ("repositoryName", settings.archive_name or "兰台数字档案馆"),
            ("baseURL", self.base_url),
            ("protocolVersion", "2.0"),
            ("adminEmail", settings.oai_admin_email),
            ("earliestDatestamp", format_datestamp(earliest or utcnow())),
            ("deletedRecord", "persistent"),
            ("granularity", "YYYY-MM-DDThh:mm:ssZ"),
        ):
            etree.SubElement(el, _q(tag)).text = text
        return el

    def _list_metadata_formats(self, s: Session, args: dict[str, str]) -> etree._Element:
        if "identifier" in args:
            self._member(s, args["identifier"])
        el = etree.Element(_q("ListMetadataFormats"))
        for fmt in FORMATS.values():
            f = etree.SubElement(el, _q("metadataFormat"))
            etree.SubElement(f, _q("metadataPrefix")).text = fmt.prefix
            etree.SubElement(f, _q("schema")).text = fmt.schema
            etree.SubElement(f, _q("metadataNamespace")).text = fmt.namespace
        return el

    def _list_sets(self, s: Session, args: dict[str, str]) -> etree._Element:
        if "resumptionToken" in args:
            raise OaiError("badResumptionToken", "ListSets is never split: no token is valid")
        el = etree.Element(_q("ListSets"))
        for oai_set in list_open_catalogue_sets(s):
            node = etree.SubElement(el, _q("set"))
            etree.SubElement(node, _q("setSpec")).text = oai_set.spec
            etree.SubElement(node, _q("setName")).text = oai_set.name
        return el

    def _get_record(self, s: Session, args: dict[str, str]) -> etree._Element:
        prefix = self._prefix(args["metadataPrefix"])
        member = self._member(s, args["identifier"])
        el = etree.Element(_q("GetRecord"))
        self._records(s, el, [member], prefix, headers_only=False)
        return el

    def _list_identifiers(self, s: Session, args: dict[str, str]) -> etree._Element:
        return self._list(s, "ListIdentifiers", args, headers_only=True)

    def _list_records(self, s: Session, args: dict[str, str]) -> etree._Element:
        return self._list(s, "ListRecords", args, headers_only=False)

    # -- lists -------------------------------------------------------------------------------------

    def _list(
        self, s: Session, verb: str, args: dict[str, str], *, headers_only: bool
    ) -> etree._Element:
        token: PageToken | None = None
        if "resumptionToken" in args:
            try:
                token = self.signer.decode(args["resumptionToken"], verb)
            except BadToken:
                raise OaiError(
                    "badResumptionToken", "The resumptionToken is invalid or was not issued here"
                ) from None
            window = _window(token.prefix, token.set_spec, token.since, token.until)
        else:
            window = _window(
                self._prefix(args["metadataPrefix"]), args.get("set"), args.get("from"),
                args.get("until"),
            )  # fmt: skip
        set_spec = window.set_spec or OPEN_SET
        after = (token.after_stamp, token.after_id) if token else None
        try:
            page = open_catalogue_page(
                s, set_spec, since=window.since, until=window.until, after=after,
                limit=self.page_size + 1,
            )  # fmt: skip
            total = (
                token.total
                if token
                else count_open_catalogue_page(s, set_spec, since=window.since, until=window.until)
            )
        except (ValidationFailed, NotFound):
            page, total = [], 0
        if not page and token is None:
            raise OaiError("noRecordsMatch", "No records match the request")
        more = len(page) > self.page_size
        page = page[: self.page_size]
        el = etree.Element(_q(verb))
        self._records(s, el, page, window.prefix, headers_only=headers_only)
        if token is not None or more:  # an incomplete list: every part carries a token element
            cursor = token.cursor if token else 0  # records sent before this page
            rt = etree.SubElement(el, _q("resumptionToken"))
            rt.set("completeListSize", str(max(total, cursor + len(page))))
            rt.set("cursor", str(cursor))
            if more:
                last = page[-1]
                rt.text = self.signer.encode(
                    PageToken(
                        verb=verb,
                        prefix=window.prefix,
                        set_spec=window.set_spec,
                        since=window.since_text,
                        until=window.until_text,
                        after_stamp=last.datestamp,
                        after_id=last.record_id,
                        cursor=cursor + len(page),
                        total=total,
                    )
                )
        return el

    def _records(
        self,
        s: Session,
        parent: etree._Element,
        members: Sequence[SetMember],
        prefix: str,
        *,
        headers_only: bool,
    ) -> None:
        public: dict[int, PublicRecord] = {}
        if not headers_only:
            live = [m.record_id for m in members if not m.deleted]
            if live:
                for rec, row in s.execute(
                    select(Record, PublishedRecord)
                    .join(PublishedRecord, PublishedRecord.record_id == Record.id)
                    .where(Record.id.in_(live))
                ):
                    public[rec.id] = PublicRecord(rec, row, None)
        ead = EadBuilder(self.inst) if prefix == "ead" and public else None
        for m in members:
            holder = parent if headers_only else etree.SubElement(parent, _q("record"))
            self._header(holder, m)
            found = public.get(m.record_id)
            if headers_only or m.deleted or found is None:
                continue
            pub = PublicRecord(found.record, found.published, m.fonds_code)
            meta = etree.SubElement(holder, _q("metadata"))
            if ead is not None:
                meta.append(ead.element(pub, m.datestamp))
            else:
                meta.append(oai_dc_element(self.inst, pub))

    def _header(self, parent: etree._Element, m: SetMember) -> None:
        h = etree.SubElement(parent, _q("header"))
        if m.deleted:
            h.set("status", "deleted")
        etree.SubElement(h, _q("identifier")).text = oai_identifier(self.namespace, m)
        etree.SubElement(h, _q("datestamp")).text = format_datestamp(m.datestamp)
        etree.SubElement(h, _q("setSpec")).text = OPEN_SET
        if m.fonds_code:
            etree.SubElement(h, _q("setSpec")).text = f"{_FONDS_SET}{m.fonds_code}"

    # -- lookups -----------------------------------------------------------------------------------

    @staticmethod
    def _prefix(prefix: str) -> str:
        if prefix not in FORMATS:
            raise OaiError(
                "cannotDisseminateFormat",
                f"Metadata format '{prefix}' is not supported (oai_dc, ead)",
            )
        return prefix

    def _member(self, s: Session, identifier: str) -> SetMember:
        head = f"oai:{self.namespace}:"
        local = identifier[len(head) :] if identifier.startswith(head) else None
        member = None
        if local:
            rid = s.scalar(
                select(Record.id)
                .join(PublishedRecord, PublishedRecord.record_id == Record.id)
                .where(or_(Record.archival_code == local, Record.uid == local))
                .limit(1)
            )
            member = open_catalogue_member(s, int(rid)) if rid is not None else None
        if member is None:
            raise OaiError("idDoesNotExist", f"No record has the identifier '{identifier}'")
        return member


def oai_identifier(namespace: str, m: SetMember) -> str:
    return f"oai:{namespace}:{m.archival_code or m.identifier}"
