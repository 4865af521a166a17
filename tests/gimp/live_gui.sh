#!/bin/sh
# Runs inside an X display (xvfb-run): GIMP's GUI runs the batch script $2, which opens the plug-in's
# dialog (INTERACTIVE). Once the dialog's window is there, its id is written to $3/window; then this
# script carries out the steps the test writes, one file at a time: $3/step0, $3/step1, ... each one
# line, "shot PNG" (a picture of the dialog, tests/gimp/window_shot.py), "key KEYS" (typed into the
# focused dialog, as a person would) or "click DX DY" (a click DX, DY pixels left of and above the
# dialog's bottom-right corner: where its OK button is), and answers each with $3/done<N>. The test decides when (it
# waits for the daemon's log); every wait here is for an event, the timeouts are guards only.
# Usage: live_gui.sh GIMP_BINARY BATCH_SCRIPT STEP_DIR
gimp="$1"; script="$2"; dir="$3"; here=$(dirname "$0")
"$gimp" -df --batch-interpreter=python-fu-eval -b - --quit < "$script" &
gp=$!
wid=$(timeout 300 xdotool search --sync --onlyvisible --name '^Neural Style Transfer$' | head -n 1)
echo "live_gui.sh: the dialog's window is $wid" >&2
echo "$wid" > "$dir/window.part" && mv "$dir/window.part" "$dir/window"
n=0
while kill -0 "$gp" 2>/dev/null; do
    if [ -f "$dir/step$n" ]; then
        read -r what arg < "$dir/step$n"
        case "$what" in
            shot) python3 "$here/window_shot.py" "$wid" "$arg" >&2 ;;
            key) timeout 60 xdotool windowfocus --sync "$wid" && xdotool key --delay 200 --clearmodifiers $arg
                 echo "live_gui.sh: typed $arg" >&2 ;;
            click) eval "$(xdotool getwindowgeometry --shell "$wid")"
                 set -- $arg
                 xdotool mousemove --window "$wid" $((WIDTH - $1)) $((HEIGHT - $2)) click 1
                 echo "live_gui.sh: clicked at $((WIDTH - $1)),$((HEIGHT - $2)) of ${WIDTH}x${HEIGHT}" >&2 ;;
        esac
        touch "$dir/done$n"
        n=$((n + 1))
    else
        sleep 0.1
    fi
done
wait "$gp"
