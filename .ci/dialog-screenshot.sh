#!/usr/bin/env bash
# Regenerate docs/dialog.png: GIMP 3's GUI under Xvfb (inside the cached trixie chroot, see
# gimp3-chroot.sh) opens examples/chelsea.png, selects an ellipse and runs plug-in-neural-style
# INTERACTIVELY; the dialog's window is dumped with xwd, converted with .ci/xwd2png.py, and the dialog
# is closed with Escape. Run as root from anywhere: bash .ci/dialog-screenshot.sh [OUT.png]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"
BIN="$(bash .ci/gimp3-chroot.sh ensure)"     # NEURAL_STYLE_CI_SUITE=sid: GIMP 3.2
GIMP_GUI="$(cd "$BIN" && ls gimp-3.* | head -n 1)"
OUT="${1:-docs/dialog.png}"
WORK="$(mktemp -d /tmp/neural-style-shot.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/profile"
printf '(plug-in-path "${gimp_dir}/plug-ins:${gimp_plug_in_dir}/plug-ins:%s/gimp_plugin")\n' "$REPO" \
    >"$WORK/profile/gimprc"
cat >"$WORK/dialog.py" <<PY
img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path("$REPO/examples/chelsea.png"))
Gimp.Display.new(img)
src = img.get_layers()[0]
w, h = src.get_width(), src.get_height()
img.select_ellipse(Gimp.ChannelOps.REPLACE, int(w * 0.2), int(h * 0.1), int(w * 0.6), int(h * 0.8))
Gimp.displays_flush()
proc = Gimp.get_pdb().lookup_procedure("plug-in-neural-style")
cfg = proc.create_config()
cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
cfg.set_property("image", img)
cfg.set_core_object_array("drawables", [src])
cfg.set_property("style-file", Gio.File.new_for_path("$REPO/examples/starry_night.jpg"))
proc.run(cfg)
PY
cat >"$WORK/run.sh" <<SH
$GIMP_GUI -df --batch-interpreter=python-fu-eval -b - --quit < "$WORK/dialog.py" &
gp=\$!
for i in \$(seq 1 240); do
    wid=\$(xdotool search --onlyvisible --name "^Neural Style Transfer\\\$" 2>/dev/null | head -n 1)
    [ -n "\$wid" ] && break
    sleep 0.5
done
[ -n "\$wid" ] || { echo "the dialog did not appear" >&2; kill \$gp; exit 1; }
sleep 3
xwd -id "\$wid" -silent > "$WORK/dialog.xwd"
xdotool windowfocus "\$wid"; xdotool key Escape
wait \$gp
SH
GIMP3_DIRECTORY="$WORK/profile" HOME="$WORK" GIMP_CHROOT_BINDS="$REPO" \
    "$BIN/xvfb-run" -a -s "-screen 0 1400x1000x24" sh "$WORK/run.sh"
PY="$REPO/.venv/bin/python"
[ -x "$PY" ] || PY=python3
"$PY" .ci/xwd2png.py "$WORK/dialog.xwd" "$OUT"
echo "wrote $OUT"
