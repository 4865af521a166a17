"""Save a PNG of an X window (its id in argv[1]) to argv[2], once it has drawn itself: the shot is
retaken until two in a row are the same (the dialog's estimate line and thumbnail arrive after it
maps). Runs with the system python3 where GIMP is (python3-gi, GTK 3)."""
import sys
import time

import gi

gi.require_version("Gdk", "3.0")
gi.require_version("GdkX11", "3.0")
from gi.repository import Gdk, GdkX11  # noqa: E402

Gdk.init([])
display = GdkX11.X11Display.get_default()
window = GdkX11.X11Window.foreign_new_for_display(display, int(sys.argv[1]))
last = None
for _ in range(100):                       # a guard: at most ~20 s
    time.sleep(0.2)
    pic = Gdk.pixbuf_get_from_window(window, 0, 0, window.get_width(), window.get_height())
    if pic is None:
        continue
    pixels = pic.get_pixels()
    if pixels == last:
        break
    last = pixels
pic.savev(sys.argv[2], "png", [], [])
print("window_shot.py: saved %dx%d to %s" % (pic.get_width(), pic.get_height(), sys.argv[2]))
