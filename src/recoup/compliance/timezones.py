"""The borrower's candidate time zones for a contact, and a phone number's comparable form.

Time rules are judged in the borrower's local time (``docs/compliance.md``, "Local time and
ambiguous time zones"), taken from the first of:

1. the borrower's own ``timezone`` (an IANA name) when known;
2. for a phone recipient (call, sms, voicemail), the zones libphonenumber's geocoding data gives
   for the number (a number written without ``+`` is read in the profile's ``phone_region``); an
   unparsable number, or one whose zone is unknown, falls through to 3;
3. the profile's ``timezones``.

More than one candidate means the zone is uncertain, and the contact must then be allowed in
every candidate (US: 12 CFR 1006.6(b)(1), "if the time zone is ambiguous"): a toll-free +1 800
number maps to dozens of zones and so gets a narrow window, an area code to one or two.

Numbers are compared in E.164 form (``+8613800000000``), so that ``138 0000 0000`` and
``+86 138-0000-0000`` count as the same number for per-number caps and third-party objections.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_timezone
from phonenumbers.tzdata import TIMEZONE_DATA

from recoup.compliance.policy import PHONE_CHANNELS, Channel, Profile, zone_info

#: libphonenumber's answer when it knows no zone for a number.
_UNKNOWN_ZONE = phone_timezone.UNKNOWN_TIMEZONE
#: Enough room for a day's batch of distinct numbers; each entry is a few hundred bytes.
_NUMBER_CACHE = 1 << 18


def candidate_zones(
    channel: Channel, to: str, timezone: str | None, profile: Profile
) -> tuple[ZoneInfo, ...]:
    """The zones a contact's time rules are judged in (see the module docstring).

    ``timezone`` is the borrower's own zone, when known; an unknown name is ignored here
    (requests are validated when parsed). Never empty: the profile's zones are the fallback.
    """
    if timezone is not None:
        own = zone_info(timezone)
        if own is not None:
            return (own,)
    if channel in PHONE_CHANNELS:
        if _country_matches_profile(to, profile.timezones):
            return profile.zones
        zones = number_zones(to, profile.phone_region)
        if zones:
            return zones
    return profile.zones


def _country_matches_profile(number: str, profile_zones: tuple[str, ...]) -> bool:
    """Whether an E.164 number's country maps, whatever the rest of the number, to exactly the
    profile's zones: then parsing it cannot change the answer (a valid number gets those zones,
    an unknown one falls back to them). Saves libphonenumber's parse for most numbers of a
    one-zone country (every +86 number under the China profile)."""
    if not (number.startswith("+") and number[1:].isdigit()):
        return False
    digits = number[1:]
    for length in (1, 2, 3):
        if int(digits[:length] or "0") in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return _country_zones(digits[:length]) == profile_zones
    return False


@lru_cache(maxsize=512)
def _country_zones(calling_code: str) -> tuple[str, ...] | None:
    """The one zone list every number of a calling code maps to in libphonenumber's data, or
    None when its numbers map to different lists."""
    found = {
        zones
        for prefix, zones in TIMEZONE_DATA.items()
        # Geographic numbers look up prefixes of the number; others the calling code's prefixes.
        if prefix.startswith(calling_code) or calling_code.startswith(prefix)
    }
    return next(iter(found)) if len(found) == 1 else None


@lru_cache(maxsize=_NUMBER_CACHE)
def number_zones(number: str, region: str) -> tuple[ZoneInfo, ...]:
    """The zones of a phone number (empty when the number or its zone is unknown).

    A number without ``+`` is read in ``region``; libphonenumber's "Etc/Unknown" is dropped.
    """
    parsed = _parse(number, region)
    if parsed is None:
        return ()
    names = phone_timezone.time_zones_for_number(parsed)
    zones = [zone_info(name) for name in names if name != _UNKNOWN_ZONE]
    return tuple(zone for zone in zones if zone is not None)


def recipient_key(channel: Channel, to: str, region: str) -> str:
    """A recipient in a form that compares equal however it was written.

    Phone numbers become E.164 (read in ``region`` when written without ``+``); email
    addresses, postal addresses and push tokens are compared without case and extra spaces.
    """
    if channel in PHONE_CHANNELS:
        return phone_key(to, region)
    return " ".join(to.split()).casefold()


@lru_cache(maxsize=_NUMBER_CACHE)
def phone_key(number: str, region: str) -> str:
    """``number`` in E.164 form, or its digits when it is not a phone number."""
    text = number.strip()
    # The common case, a number stored in E.164 already, needs no parsing.
    if text.startswith("+") and text[1:].isdigit():
        return text
    parsed = _parse(text, region)
    if parsed is not None and phonenumbers.is_possible_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    digits = "".join(c for c in text if c.isdigit())
    return ("+" + digits if text.startswith("+") else digits) or " ".join(text.split()).casefold()


def _parse(number: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
