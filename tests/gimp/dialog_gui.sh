#!/bin/sh
# Runs inside an X display (xvfb-run): GIMP's GUI runs the batch script $2, which opens the plug-in's
# dialog (INTERACTIVE). Once the dialog's window is there and has drawn itself, save a PNG of it to
# $3 (tests/gimp/window_shot.py), then press Escape in it, as a person would; the script records
# that the run was cancelled. Every step waits for its event; the timeouts are guards only.
# Usage: dialog_gui.sh GIMP_BINARY BATCH_SCRIPT SHOT_PNG
gimp="$1"; script="$2"; shot="$3"; here=$(dirname "$0")
"$gimp" -df --batch-interpreter=python-fu-eval -b - --quit < "$script" &
gp=$!
wid=$(timeout 300 xdotool search --sync --onlyvisible --name '^Neural Style Transfer$' | head -n 1)
echo "dialog_gui.sh: the dialog's window is $wid" >&2
if [ -n "$wid" ]; then
    python3 "$here/window_shot.py" "$wid" "$shot" >&2
    timeout 60 xdotool windowfocus --sync "$wid" && xdotool key --clearmodifiers Escape
    echo "dialog_gui.sh: pressed Escape in the dialog" >&2
fi
wait "$gp"
