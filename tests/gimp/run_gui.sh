#!/bin/sh
# Runs inside an X display (xvfb-run): GIMP's GUI runs the batch script $2, which opens the plug-in's
# dialog (INTERACTIVE) on an image shown in its window. Once the dialog is there, its id is written to
# $3/window; then this script carries out the steps the test writes, one file at a time ($3/step0,
# $3/step1, ...; each one line), and answers each with $3/done<N>:
#   click WID DX DY   a click DX, DY pixels left of and above window WID's bottom-right corner
#   clickat WID X Y   a click X, Y pixels right of and below window WID's top-left corner
#   key WID KEYS      KEYS (one or more, e.g. "alt+u Down") typed into window WID once it has the
#                     keyboard focus, as a person would
#   find REGEX FILE   wait for a visible window whose title matches REGEX; FILE gets one line per
#                     such window: "id x y width height" (root coordinates; no window manager here)
#   shot WID PNG      a picture of window WID ("root": the whole screen), tests/gimp/window_shot.py
# The test decides when (it waits for the daemon); every wait here is for an event, the timeouts are
# guards only. Usage: run_gui.sh GIMP_BINARY BATCH_SCRIPT STEP_DIR
gimp="$1"; script="$2"; dir="$3"; here=$(dirname "$0")
"$gimp" -df --batch-interpreter=python-fu-eval -b - --quit < "$script" &
gp=$!
# xdotool's search walks the window tree and dies with BadWindow when a window it is looking at
# closes meanwhile (GIMP's start opens and closes several): it then prints nothing, so search again
wid=
deadline=$(( $(date +%s) + 300 ))
while [ -z "$wid" ] && kill -0 "$gp" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
    wid=$(timeout $(( deadline - $(date +%s) + 1 )) xdotool search --sync --onlyvisible --name '^Neural Style Transfer$' 2>/dev/null | head -n 1)
    [ -n "$wid" ] || sleep 0.2
done
echo "run_gui.sh: the dialog's window is $wid" >&2
echo "$wid" > "$dir/window.part" && mv "$dir/window.part" "$dir/window"
n=0
while kill -0 "$gp" 2>/dev/null; do
    if [ -f "$dir/step$n" ]; then
        read -r what w a < "$dir/step$n"
        case "$what" in
            click) set -- $a; a=$1; b=$2
                 eval "$(xdotool getwindowgeometry --shell "$w")"
                 xdotool mousemove --window "$w" $((WIDTH - a)) $((HEIGHT - b)) click 1
                 echo "run_gui.sh: clicked $w at $((WIDTH - a)),$((HEIGHT - b)) of ${WIDTH}x${HEIGHT}" >&2 ;;
            clickat) set -- $a
                 xdotool mousemove --window "$w" "$1" "$2" click 1
                 echo "run_gui.sh: clicked $w at $1,$2 (from its top-left)" >&2 ;;
            key) timeout 60 xdotool windowfocus --sync "$w" && xdotool key --delay 200 --clearmodifiers $a
                 echo "run_gui.sh: typed $a into $w" >&2 ;;
            find) : > "$a.part"
                 for id in $(timeout 120 xdotool search --sync --onlyvisible --name "$w"); do
                     eval "$(xdotool getwindowgeometry --shell "$id")"
                     echo "$id $X $Y $WIDTH $HEIGHT" >> "$a.part"
                 done
                 mv "$a.part" "$a"
                 echo "run_gui.sh: windows titled '$w': $(tr '\n' ';' < "$a")" >&2 ;;
            shot) [ "$w" = root ] && w=$(python3 -c 'import gi; gi.require_version("GdkX11", "3.0")
from gi.repository import Gdk, GdkX11; Gdk.init([]); print(Gdk.get_default_root_window().get_xid())')
                 python3 "$here/window_shot.py" "$w" "$a" >&2 ;;
        esac
        touch "$dir/done$n"
        n=$((n + 1))
    else
        sleep 0.1
    fi
done
wait "$gp"
