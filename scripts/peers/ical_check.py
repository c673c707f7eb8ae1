"""Reads an iCalendar file on stdin with the real parsers from PyPI and prints
what they understood, as JSON, for the calendar tests:

    ical-check [FROM TO]      # dates YYYY-MM-DD bounding the expansion

{"method": ..., "calname": ...,
 "timezones": [tzid, ...],
 "events": [{"uid", "sequence", "status", "summary", "recurrence_id",
             "dtstart", "tzid", "rrule", "exdates", "location",
             "attendees": [{"address", "rsvp", "cn"}], "organizer"}],
 "occurrences": [{"uid", "start", "local", "utc", "minutes", "sequence",
                  "status"}]}

"start" is the occurrence's start as recurring-ical-events gives it (ISO
8601 with its offset), "local" the wall-clock time in the event's zone,
"utc" the instant in UTC. A file the parser rejects exits 1 with the reason.
"""

import datetime
import json
import sys

import icalendar
import recurring_ical_events


def text(value):
    return None if value is None else str(value)


def when(value):
    if value is None:
        return None
    return value.dt.isoformat() if hasattr(value, "dt") else str(value)


def main():
    raw = sys.stdin.buffer.read()
    try:
        calendar = icalendar.Calendar.from_ical(raw)
    except Exception as error:  # the parser's own words
        print(f"icalendar refused the file: {error}", file=sys.stderr)
        return 1
    out = {
        "method": text(calendar.get("METHOD")),
        "calname": text(calendar.get("X-WR-CALNAME")),
        "timezones": [text(tz.get("TZID")) for tz in calendar.walk("VTIMEZONE")],
        "events": [],
        "occurrences": [],
    }
    for event in calendar.walk("VEVENT"):
        start = event.get("DTSTART")
        attendees = event.get("ATTENDEE", [])
        if not isinstance(attendees, list):
            attendees = [attendees]
        exdates = []
        raw_exdates = event.get("EXDATE", [])
        if not isinstance(raw_exdates, list):
            raw_exdates = [raw_exdates]
        for group in raw_exdates:
            exdates.extend(d.dt.isoformat() for d in group.dts)
        out["events"].append({
            "uid": text(event.get("UID")),
            "sequence": int(event.get("SEQUENCE", 0)),
            "status": text(event.get("STATUS")),
            "summary": text(event.get("SUMMARY")),
            "recurrence_id": when(event.get("RECURRENCE-ID")),
            "dtstart": when(start),
            "tzid": start.params.get("TZID") if start is not None else None,
            "rrule": event.get("RRULE").to_ical().decode() if event.get("RRULE") else None,
            "exdates": exdates,
            "location": text(event.get("LOCATION")),
            "description": text(event.get("DESCRIPTION")),
            "attendees": [
                {"address": str(a), "rsvp": a.params.get("RSVP"), "cn": a.params.get("CN")}
                for a in attendees
            ],
            "organizer": text(event.get("ORGANIZER")),
        })
    if len(sys.argv) == 3:
        begin = datetime.date.fromisoformat(sys.argv[1])
        end = datetime.date.fromisoformat(sys.argv[2])
        for event in recurring_ical_events.of(calendar).between(begin, end):
            start = event["DTSTART"].dt
            finish = event["DTEND"].dt if "DTEND" in event else start + event["DURATION"].dt
            out["occurrences"].append({
                "uid": text(event.get("UID")),
                "start": start.isoformat(),
                "local": start.replace(tzinfo=None).isoformat(),
                "utc": start.astimezone(datetime.timezone.utc).replace(tzinfo=None).isoformat(),
                "minutes": int((finish - start).total_seconds() // 60),
                "sequence": int(event.get("SEQUENCE", 0)),
                "status": text(event.get("STATUS")),
            })
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
