#!/bin/sh
# Runs inside an X display (xvfb-run): GIMP's GUI runs the batch script $2. Once the script has
# written the marker $3 (result layer checked, image shown), wait for the image's window (its title
# matches the regular expression $4; GIMP's Welcome dialog is open too), give it the keyboard focus,
# wait until it has it, and type Ctrl+Z ONCE, as a person would; the script then waits for the
# layer to go and records what that one undo step left.
# Every step waits for its event; the timeouts are guards only.
# Usage: undo_gui.sh GIMP_BINARY BATCH_SCRIPT READY_MARKER IMAGE_WINDOW_TITLE_REGEX
gimp="$1"; script="$2"; ready="$3"; title="$4"
"$gimp" -df --batch-interpreter=python-fu-eval -b - --quit < "$script" &
gp=$!
guard=$(( $(date +%s) + 540 ))
while [ ! -f "$ready" ] && kill -0 "$gp" 2>/dev/null && [ "$(date +%s)" -lt "$guard" ]; do sleep 0.1; done
if [ -f "$ready" ]; then
    wid=$(timeout 120 xdotool search --sync --onlyvisible --name "$title" | head -n 1)
    echo "undo_gui.sh: the image window (title matching '$title') is $wid" >&2
    if [ -n "$wid" ] && timeout 60 xdotool windowfocus --sync "$wid"; then
        xdotool key --clearmodifiers ctrl+z
        echo "undo_gui.sh: typed Ctrl+Z once into the focused window" >&2
    else
        echo "undo_gui.sh: the image window did not appear or take the focus" >&2
    fi
fi
wait "$gp"
