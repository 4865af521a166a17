#!/bin/sh
# Runs inside an X display (xvfb-run): GIMP's GUI runs the batch script $2; once the script has
# written the marker $3 (result layer checked), type Ctrl+Z into GIMP, as a person would, until the
# script writes $4 (it saw the layer count drop), at most 5 times.
# Usage: undo_gui.sh GIMP_BINARY BATCH_SCRIPT READY_MARKER DONE_MARKER
gimp="$1"; script="$2"; ready="$3"; done_="$4"
"$gimp" -df --batch-interpreter=python-fu-eval -b - --quit < "$script" &
gp=$!
i=0
while [ ! -f "$ready" ] && kill -0 "$gp" 2>/dev/null && [ "$i" -lt 2400 ]; do sleep 0.25; i=$((i + 1)); done
if [ -f "$ready" ]; then
    wid=$(xdotool search --onlyvisible --class gimp 2>/dev/null | tail -n 1)
    [ -n "$wid" ] && xdotool windowfocus "$wid" 2>/dev/null
    sleep 0.5
    for try in 1 2 3 4 5; do
        xdotool key ctrl+z
        echo "undo_gui.sh: typed Ctrl+Z ($try)" >&2
        j=0
        while [ ! -f "$done_" ] && [ "$j" -lt 24 ]; do
            sleep 0.25; j=$((j + 1))
            # the script waits 1 s after the layer count drops before writing done: don't type again
            [ -f "$done_" ] && break
        done
        [ -f "$done_" ] && break
    done
fi
wait "$gp"
