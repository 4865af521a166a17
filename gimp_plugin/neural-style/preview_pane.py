"""The dialog's live preview pane: the area being styled, beside the settings, re-rendered by the
daemon (``live_preview.LivePreview``) whenever a setting changes.
"""
import threading

import gi

import arguments
import link
import live_preview
import request
import texts

PANE = live_preview.LONG_EDGE   # the pane's square: fixed, so the dialog never changes size with the picture
DRAIN_MS = 50       # how often the pane takes the preview worker's events (on GTK's thread)


def pane_size(width, height):
    """The picture's size in the pane for an area of ``width`` × ``height``: its long edge PANE (the
    preview is rendered at most LONG_EDGE px; a small area is shown bigger)."""
    long_edge = max(1, int(width), int(height))
    return max(1, round(width * PANE / long_edge)), max(1, round(height * PANE / long_edge))


def crop_box(width, height, side=PANE):
    """The 1:1 crop of an area: its middle, at most ``side`` × ``side`` of its own pixels."""
    w, h = min(width, side), min(height, side)
    return (width - w) // 2, (height - h) // 2, w, h


def pixbuf(pic, width, height):
    """A GdkPixbuf of an RGBA ImageData, scaled to ``width`` × ``height``."""
    gi.require_version("GdkPixbuf", "2.0")
    from gi.repository import GdkPixbuf, GLib
    pb = GdkPixbuf.Pixbuf.new_from_bytes(GLib.Bytes.new(bytes(pic.data)), GdkPixbuf.Colorspace.RGB, True, 8,
                                         pic.width, pic.height, pic.width * 4)
    if (pic.width, pic.height) != (width, height):
        pb = pb.scale_simple(width, height, GdkPixbuf.InterpType.BILINEAR)
    return pb


class LiveSource:
    """The dialog's live preview: a pane beside the settings with the area being styled (what
    ``read()`` returns: ``request.read``'s Submission, the selection's box plus margin or the layer),
    re-rendered by the daemon through ``live_preview.LivePreview`` whenever a setting changes.

    GIMP's pixels are read on GTK's thread, and only when an ``arguments.READ_INPUTS`` setting
    changes; every other change only builds a new submission from the cached read. All socket work
    stays in the LivePreview's thread (and the daemon, when none answers, is started in a thread of
    its own); the pane takes its events every ``DRAIN_MS``. Until the first styled image it shows the
    content."""

    def __init__(self, client, settings, read, box=None):
        self.client = client
        self.settings = settings
        self.read = read
        self.box = box              # width, height of the area (the gallery warm-up's preview size)
        self.warmer = None          # a live_preview.GalleryWarmer while the dialog has no style yet
        self.warm_options = None
        self.endpoint = link.configured_endpoint(client, settings)
        self.worker = None          # the LivePreview while the Live preview box is on
        self.content = None         # the cached read (a Submission)
        self.problem = None         # why there is no read (no style yet, an empty selection...)
        self.sent = None            # what was last asked for (identical changes render nothing)
        self.closed = False
        self.pending = False
        self.daemon_problem = []    # the daemon-starting thread's error, read on GTK's thread

    # ---- GTK's thread -----------------------------------------------------------------------------
    def attach(self, main, config, Gtk):
        """Build the pane beside the settings in ``main``; returns the ids of handlers on ``config``."""
        from gi.repository import GLib
        self.config, self.GLib = config, GLib
        pane = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
        frame = Gtk.Frame()
        frame.set_shadow_type(Gtk.ShadowType.IN)
        self.image = Gtk.Image()
        self.image.set_size_request(PANE, PANE)
        self.shown = None           # the newest styled picture (a press shows the original instead)
        self.pressed = False
        events = Gtk.EventBox()     # press and hold: the original (before / after)
        events.add(self.image)
        events.set_tooltip_text("Press and hold to see the original")
        events.connect("button-press-event", lambda *_: self._hold(True))
        events.connect("button-release-event", lambda *_: self._hold(False))
        frame.add(events)
        self.one_to_one = Gtk.CheckButton.new_with_mnemonic(texts.ONE_TO_ONE_LABEL)
        self.one_to_one.set_tooltip_text("Render the middle of the area at the size the result is computed, "
                                         "not the whole area scaled down")
        self.one_to_one.connect("toggled", lambda *_: self._schedule())
        self.label = Gtk.Label(label="")
        self.label.set_line_wrap(True)
        self.label.set_max_width_chars(36)
        self.label.set_xalign(0.0)
        self.label.set_size_request(PANE, -1)
        pane.pack_start(frame, False, False, 0)
        pane.pack_start(self.one_to_one, False, False, 0)
        pane.pack_start(self.label, False, False, 0)
        main.pack_start(pane, False, False, 0)
        pane.show_all()
        # what the gallery warm-up needs, read here on GTK's thread (the daemon's thread starts it)
        self.warm_options = arguments.options_from_config(config, max(self.box), "full") if self.box else None
        threading.Thread(target=self._start_daemon, name="neural-style-start-daemon", daemon=True).start()
        GLib.timeout_add(DRAIN_MS, self._drain)
        self._schedule()
        return [config.connect("notify", self._notify)]

    def _notify(self, config, pspec):
        if pspec.name in arguments.READ_INPUTS:
            self.content, self.problem = None, None
        self._schedule()

    def _schedule(self):
        """Update once GTK is idle (a burst of notifications is one update)."""
        if not self.pending and not self.closed:
            self.pending = True
            self.GLib.idle_add(self._update)

    def _update(self):
        self.pending = False
        if self.closed:
            return False
        config = self.config
        if self.content is None and self.problem is None:
            try:
                self.content = self.read()[0]
                self.shown = None
                self._show(self.content.content)         # the area itself until the first styled image
            except link.UserError as e:
                self.problem = str(e)
            except Exception as e:  # noqa: BLE001 - the preview never breaks the dialog
                self.problem = "No preview: %s: %s" % (type(e).__name__, e)
        if not config.get_property("preview"):
            self._stop_worker(wait=False)
            self.label.set_text("Live preview is off.")
            return False
        if self.problem is not None:
            self._stop_worker(wait=False)
            self.label.set_text(self.problem)
            return False
        sub = self.submission(config)
        key = (id(self.content), self.one_to_one.get_active(), sorted(sub.options.items()))
        if self.worker is not None and key == self.sent:
            return False
        self.sent = key
        if self.warmer is not None:
            self.warmer.stop()          # the artist's render comes first
        if self.worker is None:
            self.worker = live_preview.LivePreview(self.client, self.endpoint)
        self.worker.request(sub)
        return False

    def submission(self, config):
        """The cached read with the options the settings say now (the preview's size: Detail's
        custom Size, else the area's own, at most LONG_EDGE px in LivePreview). With "1:1 crop": the
        middle of the area, at the scale the run computes it (its own pixels, or Size's share of them)."""
        from dataclasses import replace
        detail = "size" if config.get_property("detail") == "size" else "full"
        options = {k: v for k, v in self.content.options.items() if k != "steps"}   # steps: only when set
        c = self.content.content
        options.update(arguments.options_from_config(config, max(c.width, c.height), detail))
        if not self.one_to_one.get_active():
            return replace(self.content, options=options)
        box = crop_box(c.width, c.height)
        share = options["size"] / float(max(c.width, c.height)) if options["size"] else 1.0
        options["size"] = max(16, int(round(max(box[2], box[3]) * share)))
        return replace(request.crop_submission(self.client, self.content, box), options=options)

    def _hold(self, pressed):
        """Press: the original area (or its 1:1 crop); release: the styled picture again."""
        self.pressed = pressed
        if pressed and self.content is not None:
            c = self.content.content
            pic = request.crop_image(self.client, c, crop_box(c.width, c.height)) if self.one_to_one.get_active() else c
            self._paint(pic)
        elif not pressed and self.shown is not None:
            self._paint(self.shown)
        return True

    def _show(self, pic):
        self.shown = pic
        if not self.pressed:
            self._paint(pic)

    def _paint(self, pic):
        w, h = pane_size(pic.width, pic.height)
        self.image.set_from_pixbuf(pixbuf(pic, w, h))

    def _drain(self):
        if self.closed:
            return False
        while self.daemon_problem:
            self.label.set_text(self.daemon_problem.pop(0))
        if self.worker is not None:
            for ev in self.worker.events():
                kind = ev.get("type")
                if kind == "image":
                    if not ev.get("outdated"):
                        self._show(ev["image"])
                elif kind in ("status", "error"):
                    self.label.set_text(ev.get("text", ""))
        return True

    def _stop_worker(self, wait=True):
        """End the worker (it cancels its job); ``wait=False`` while the dialog is up: it never freezes."""
        if self.worker is not None:
            self.worker.close(timeout=5.0 if wait else 0)
            self.worker, self.sent = None, None

    def close(self):
        """Cancel or OK: the running preview job is cancelled, the pane stops."""
        self.closed = True
        if self.warmer is not None:
            self.warmer.stop()
        self._stop_worker()

    # ---- a thread of its own ----------------------------------------------------------------------
    def _start_daemon(self):
        try:
            link.ensure_daemon(self.client, self.settings)
        except link.UserError as e:
            self.daemon_problem.append(str(e))
            return
        except Exception as e:  # noqa: BLE001
            self.daemon_problem.append("The daemon could not be started: %s" % e)
            return
        self._warm_gallery()

    def _warm_gallery(self):
        """A dialog opened with no style yet: the gallery's style statistics for this area's preview
        are computed now (``live_preview.GalleryWarmer``), so the painting the artist picks previews
        at once. Only for full colour (luminance and histogram statistics depend on the photo)."""
        options = self.warm_options
        if options is None or options.get("color", "full") != "full" or self.worker is not None or self.closed:
            return
        from shared import gallery
        import gimp_io
        reads = [lambda p=str(p.path): gimp_io.pixbuf_image(self.client, p) for p in gallery.PAINTINGS]
        self.warmer = live_preview.GalleryWarmer(self.client, self.endpoint, reads, self.box[0], self.box[1],
                                                 options, wanted=lambda: self.worker is None and not self.closed)
