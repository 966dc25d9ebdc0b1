"""Reading Server-Sent Events in tests."""


def sse(lines) -> list[tuple[str, str]]:
    """(event, data) pairs from SSE lines; comment lines (pings) are skipped."""
    events, name, data = [], "message", []
    for line in lines:
        if not line:
            if data:
                events.append((name, "\n".join(data)))
            name, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    if data:
        events.append((name, "\n".join(data)))
    return events
