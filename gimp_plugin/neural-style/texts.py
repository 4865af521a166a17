"""What the plug-in says: the estimate line under Detail, the progress text and bar, and the daemon's
errors as sentences that say what to do. Pure functions of the daemon's events and estimates (no
GIMP, no sockets), so they are tested on their own.
"""
from arguments import AUTO_TARGET_S

HINTS = {
    "foreign_daemon": "Another installation's daemon uses this endpoint: stop it, or run 'python install.py "
                      "--endpoint tcp://127.0.0.1:PORT' in the project folder to use another port.",
    "no_daemon": "Run 'python install.py --check' in the project folder to see why it does not start.",
    "daemon_failed": "Run 'python install.py --check' in the project folder to see why it does not start.",
    "timeout": "The daemon stopped answering; its log is shown by 'python -m daemon status'.",
    "version_mismatch": "The plug-in and the daemon are from different versions: run "
                        "'python install.py' in the project folder again and restart GIMP.",
    "out_of_memory": "Lower 'Size' or choose a lower 'Quality', then try again.",
    "empty_region": "Select part of the layer (or select nothing to style all of it).",
    "weights_unavailable": "Run 'python install.py --check' in the project folder.",
    "queue_full": "Wait for the running jobs to finish, then try again.",
    "busy": "Wait for your other jobs to finish, then try again.",
    "too_large": "Lower 'Size', then try again.",
    "job_lost": "Nothing was changed in the image: run the filter again (Filters > Repeat).",
    "bad_endpoint": "Run 'python install.py --endpoint tcp://127.0.0.1:PORT' in the project folder to fix it.",
}


def detail_text(detail, info, box):
    """The estimate line for the Detail choice (``info``: the daemon's estimate; for Auto its
    ``fit_quality`` and ``fit_seconds`` at the area's own size). Names the size actually computed."""
    w, h = box
    if info is None:
        return estimate_text(None, w, h)
    device = info.get("device", "?")
    if detail == "auto":
        quality = info.get("fit_quality")
        seconds = info.get("fit_seconds") if info.get("fit_seconds") is not None else info["seconds"]
        took = format_duration(seconds, coarse=True)
        what = ", %s quality" % quality if quality else ""
        if seconds > AUTO_TARGET_S * 1.5:
            return "Auto: %d×%d px (full size)%s takes about %s on %s." % (w, h, what, took, device)
        return "Auto: %d×%d px (full size)%s, about %s on %s." % (w, h, what, took, device)
    if detail == "full":
        return "Full size, %d×%d px: about %s on %s." % (
            w, h, format_duration(info["seconds"], coarse=True), device)
    return estimate_text(info, w, h)


GALLERY_LABEL = "_Gallery: a click picks a painting (or choose a file or a layer below)"
ONE_TO_ONE_LABEL = "_1:1 crop (the strokes at the size OK makes them)"


def styles_summary(names):
    """The dialog's line of every style in use (``dialog.style_names``): "Style: The Starry Night
    inside the selection; Udnie outside it; fine strokes from Udnie"."""
    main = names.get("style")
    if main is None:
        return "No style yet: pick a painting of the gallery, a file or a layer."
    where = "in the region '%s'" % names["region"] if names.get("region") else "inside the selection (or everywhere)"
    parts = ["%s %s" % (main, where) if names.get("outside") else main]
    if names.get("outside"):
        parts.append("%s outside it" % names["outside"])
    if names.get("fine"):
        parts.append("fine strokes from %s" % names["fine"])
    for channel, title in names.get("more") or ():
        parts.append("%s in '%s'" % (title, channel))
    return "Style: " + "; ".join(parts) + "."


def estimate_text(info, width, height):
    """The dialog's line: "About 3 h 10 min at 1920×1280 on cpu (the daemon's measured speed)"."""
    if info is None:
        return "The time is estimated once the daemon runs (it starts when you press OK)."
    long_edge = max(1, int(width), int(height))
    size = min(int(info.get("size") or long_edge), long_edge)     # never above the area's own pixels
    w, h = max(1, round(width * size / long_edge)), max(1, round(height * size / long_edge))
    scaled = "" if size == long_edge else ", scaled up to %d×%d" % (width, height)
    return "About %s at %d×%d px%s on %s." % (format_duration(info["seconds"], coarse=True), w, h, scaled,
                                             info.get("device", "?"))


# ---- what the events say ----------------------------------------------------------------------

def describe_error(code, message):
    """The daemon's error as a message that says what to do."""
    text = "Neural style transfer failed: %s" % (message or code)
    if not text.endswith("."):
        text += "."
    hint = HINTS.get(code)
    return text + (" " + hint if hint else "")


def format_duration(seconds, coarse=False):
    """A time for a person: "40 s", "3 min 20 s", "5 h 06 min" (hours from 60 min on). ``coarse``
    (an estimate, not a count-down): whole minutes from 2 min on, "4 min"."""
    s = max(0, int(round(float(seconds))))
    if s >= 3600:
        m = int(round(s / 60.0))
        return "%d h %02d min" % (m // 60, m % 60)
    if s >= 120 and coarse:
        return "%d min" % int(round(s / 60.0))
    if s >= 60:
        return "%d min %02d s" % (s // 60, s % 60)
    return "%d s" % s


def format_eta(seconds):
    """The time left, as the progress text ends: ", about 3 min 20 s left", ", about 5 h 06 min left"."""
    if seconds is None:
        return ""
    return ", about %s left" % format_duration(seconds)


def size_note(size, width, height):
    """What the dialog and the progress say when the artist asked for a working size smaller than the
    layer: the result is scaled up to the layer. "" at full resolution (Size 0 or at least the layer)."""
    longest = max(int(width), int(height))
    if not size or int(size) >= longest:
        return ""
    return "working at %d px, scaled up to %d px" % (int(size), longest)


def queue_text(position, note=""):
    """``position`` = jobs ahead in the daemon's queue (0 = it runs now)."""
    if position:
        return "Neural style: waiting for %d job(s) ahead" % position
    return "Neural style: started" + (" (%s)" % note if note else "")


def job_estimate_text(seconds, note=""):
    """The daemon's estimate of the whole job, before its first step: "Neural style: about 4 min (estimated)"."""
    return "Neural style: %sabout %s (estimated)" % (note + "; " if note else "", format_duration(seconds, coarse=True))


def progress_text(ev, note=""):
    """One line for an ``accepted`` or ``progress`` event; ``note`` = ``size_note`` of the run."""
    if ev.get("type") == "accepted" or ev.get("position") is not None:
        return queue_text(ev.get("position") or 0, note)
    if ev.get("estimate_s") is not None:
        return job_estimate_text(ev["estimate_s"], note)
    if ev.get("message"):
        return "Neural style: %s" % ev["message"]
    parts = ["mixing the styles"] if ev.get("stage") == "mix" else []
    if ev.get("levels", 1) and ev.get("levels", 1) > 1:
        parts.append("level %d/%d" % (ev.get("level", 0) + 1, ev["levels"]))
    if ev.get("total"):
        parts.append("step %d/%d" % (ev.get("step", 0), ev["total"]))
    if ev.get("tiles"):     # a large step, between its tiles
        parts.append("tile %d/%d" % (ev.get("tile", 0), ev["tiles"]))
    return "Neural style: " + ", ".join(parts) + format_eta(ev.get("eta_s"))


def progress_fraction(ev):
    """How far the whole job is, 0..1, or None when the event does not say (a waiting job)."""
    if not ev.get("total"):
        return None
    if ev.get("job_total"):
        return min(1.0, float(ev.get("done", 0)) / float(ev["job_total"]))
    levels = max(1, int(ev.get("levels") or 1))
    total = max(1, int(ev.get("total") or 1))
    return min(1.0, (int(ev.get("level") or 0) + float(ev.get("step") or 0) / total) / levels)
