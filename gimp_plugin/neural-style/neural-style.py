#!/usr/bin/env python3
"""Neural Style Transfer for GIMP 3 (Filters > Artistic > Neural Style Transfer...).

Paints the selected layer in the style of another image (Gatys et al. 2016), with the controls of
"Controlling Perceptual Factors in Neural Style Transfer" (2017): spatial control (the selection or a
saved channel picks where the style goes, a channel of the style image picks which part of the style
to use, a second style for the area outside the selection), colour control (full, luminance-only,
colour histogram matching) and scale control (coarse structure of one style, fine texture of another).

The plug-in does no image maths. Like GIMP's own Python plug-ins (plug-ins/python/foggify.py) this
file holds a run function that reads straight down and a PlugIn class that only declares; the parts
are the modules beside it (GIMP runs only the file named like its folder, so the folder goes on
sys.path):

- ``arguments.py``: the one table of the procedure's arguments (declarations, dialog tiers, what is
  remembered, the daemon options they map to);
- ``request.py``: the arguments and the image -> a ``Submission`` (what goes to the daemon) and a
  ``ResultPlan`` (the new layer's name and mask);
- ``gimp_io.py``: GIMP pixel I/O ("R'G'B'A u8" and "Y u8" in, the result and preview layers out);
- ``remember.py``: the settings a result layer carries, and restoring them;
- ``dialog.py``: the dialog; ``preview_pane.py``: its live preview pane (``live_preview.py``: the
  pane's daemon worker, no GTK); ``progress.py``: GIMP's progress bar, the canvas preview and the
  Stop window while a run works;
- ``link.py``: the daemon conversation through ``shared.client`` (no GIMP): the ``Submission``,
  starting a daemon when none answers (with the Python named in ``neural-style.json``, written by
  install.py), following the job's events; ``texts.py``: what the events and estimates say.

Standard library + GObject introspection only; nothing heavy at import time (GIMP runs this file at
every start to register the procedure).
"""
import functools
import os
import sys

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402
from gi.repository import GLib  # noqa: E402
from gi.repository import GObject  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import arguments  # noqa: E402
import dialog  # noqa: E402
import gimp_io  # noqa: E402
import link  # noqa: E402
import preview_pane  # noqa: E402
import progress  # noqa: E402
import remember  # noqa: E402
import request  # noqa: E402
from link import UserError  # noqa: E402

PROC = "plug-in-neural-style"
PROC_CONTINUE = "plug-in-neural-style-continue"


@functools.lru_cache(maxsize=None)
def _g_object_ref():
    """libgobject's g_object_ref through ctypes, looked up once (None where the library cannot be found)."""
    import ctypes
    import ctypes.util
    for name in ("libgobject-2.0.so.0", "libgobject-2.0-0.dll", "libgobject-2.0.0.dylib",
                 ctypes.util.find_library("gobject-2.0")):
        try:
            ref = ctypes.CDLL(name).g_object_ref
        except (OSError, TypeError):
            continue
        ref.restype, ref.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
        return ref
    return None


def keep(choice):
    """GIMP 3.0.4's libgimp frees an argument's Gimp.Choice with the procedure without holding a
    reference of its own: freed by Python first, the plug-in segfaults when run; freed by both at exit,
    it segfaults there. Two extra references that nothing drops, so the choice lives as long as the
    process: one on the Python wrapper, and one on the GObject itself, which libgimp's unref would
    otherwise free under the wrapper (GIMP's start then printed g_object_get_qdata criticals and a
    segmentation fault when the registration process ended)."""
    import ctypes
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(choice))
    ref = _g_object_ref()
    if ref is not None:
        pointer = ctypes.pythonapi.PyCapsule_GetPointer
        pointer.restype, pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        ref(pointer(choice.__gpointer__, None))
    return choice


def fail(procedure, status, message):
    return procedure.new_return_values(status, GLib.Error(message))


def run(procedure, run_mode, image, drawables, config, run_data):
    source, problem = request.the_one_layer(drawables, image)
    if problem:
        return fail(procedure, Gimp.PDBStatusType.CALLING_ERROR, problem)
    result = gimp_io.active_result(drawables)   # a result of ours is active: its settings, "Continue"

    # From GIMP's menus (the dialog, or Filters > Repeat with the last values) there is a screen:
    # show the Stop window. Scripts (NONINTERACTIVE) never touch GTK.
    # Scripts (NONINTERACTIVE) keep every argument's meaning: Size alone says the detail, a style
    # layer wins over a style file. From GIMP's menus the aux choices Detail, Style and Continue say it.
    interactive = run_mode in (Gimp.RunMode.INTERACTIVE, Gimp.RunMode.WITH_LAST_VALS)
    try:
        settings = link.load_settings()
        client = link.import_client(settings)
    except UserError as e:
        return fail(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, str(e))
    if interactive:
        dialog.init(PROC)
    live = None
    if run_mode == Gimp.RunMode.INTERACTIVE:
        # opened on a result: the dialog starts from that result's settings, and offers to continue it
        if result is not None:
            lost = remember.restore_settings(config, gimp_io.remembered_settings(result), image)
            if lost:
                Gimp.message("Neural style: the settings of '%s' are restored, except: %s."
                             % (result.get_name(), "; ".join(lost)))
        else:
            config.set_property("continue", "no")
            remember.restore_choices(config)       # Detail as last chosen, however that run ended
        box = request.dialog_box(image, source)
        endpoint = link.configured_endpoint(client, settings)

        def estimate(options):
            return link.estimate(client, endpoint, box[0], box[1], options)
        # the dialog's live preview renders what OK would send (request.read, re-read only when needed)
        live = preview_pane.LiveSource(client, settings, lambda: request.read(
            client, image, source, config, config.get_property("style-from")), box)
        if not dialog.ask(procedure, config, source, box, estimate, live, can_continue=result is not None):
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
        remember.save_choices(config)

    go_on = config.get_property("continue") if interactive and result is not None else "no"
    return stylize_layer(procedure, image, source, config, client, settings, interactive,
                         config.get_property("style-from") if interactive else None,
                         config.get_property("detail") if interactive else None, go_on, result)


def run_continue(procedure, run_mode, image, drawables, config, run_data):
    """plug-in-neural-style-continue: more steps on a result layer, with the settings it remembers
    (for scripts; the dialog offers the same as "Continue from this layer")."""
    result = gimp_io.active_result(drawables)
    if result is None:
        return fail(procedure, Gimp.PDBStatusType.CALLING_ERROR,
                    "Continuing needs a result layer of Neural Style Transfer (one that remembers its "
                    "settings): select it.")
    source, problem = request.the_one_layer(drawables, image)
    if problem:
        return fail(procedure, Gimp.PDBStatusType.CALLING_ERROR, problem)
    if source == result:
        return fail(procedure, Gimp.PDBStatusType.CALLING_ERROR,
                    "The layer '%s' that '%s' was made from is gone: nothing to continue from."
                    % (source.get_name(), result.get_name()))
    try:
        settings = link.load_settings()
        client = link.import_client(settings)
    except UserError as e:
        return fail(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, str(e))
    record = gimp_io.remembered_settings(result)
    values, lost = remember.settings_values(record, image)
    if not (values.get("style-layer") or values.get("style-file")):
        return fail(procedure, Gimp.PDBStatusType.EXECUTION_ERROR,
                    "Cannot continue '%s': %s." % (result.get_name(), "; ".join(lost)))
    values["size"] = max((record.get("run") or {}).get("size") or [0])   # the size it was worked at
    values["preview"] = False
    if config.get_property("steps") > 0:
        values["steps"] = config.get_property("steps")
    return stylize_layer(procedure, image, source, remember.RecordedValues(values), client, settings, False,
                         values.get("style-from"), None, config.get_property("mode"), result)


def stylize_layer(procedure, image, source, config, client, settings, interactive, style_from, detail,
                  go_on, result):
    """Read -> the daemon -> one undo group -> return. ``go_on``: "no" styles ``source`` anew, from the
    photo itself (never from a kept result: anew means anew); "new-layer" / "replace" continue from
    the result layer ``result``'s pixels."""
    try:
        Gimp.progress_init("Neural style: reading the layers")
        if go_on == "no":
            submission, plan = request.read(client, image, source, config, style_from)
        else:
            submission, plan = request.read_continue(client, image, source, config, style_from, result)

        # The long wait happens before the undo group: GIMP's Cancel kills the plug-in outright.
        Gimp.progress_init("Neural style: connecting to the daemon")
        endpoint = link.ensure_daemon(client, settings)
        if detail is not None and detail != "size":   # Auto and Full: the area's own pixels
            c = submission.content
            info = link.estimate(client, endpoint, c.width, c.height, dict(submission.options, size=0))
            request.use_options(submission, plan, arguments.options_from_config(
                config, max(c.width, c.height), detail, info))
        report = {}
        with progress.Feedback(image, source, plan, submission.preview, interactive) as feedback:
            Gimp.progress_set_text("Neural style: sending the images" + (" (%s)" % plan.size_note
                                                                         if plan.size_note else ""))
            pic, stopped = link.stylize(client, endpoint, submission, feedback, report)
        Gimp.progress_update(1.0)
        if not source.is_valid():
            raise UserError("The source layer was deleted while the style was being computed.")
        if go_on != "no" and not result.is_valid():
            raise UserError("The result layer was deleted while the style was being computed.")
        if interactive and style_from == "layer":
            remember.add_recent_style(layer=config.get_property("style-layer"))
        elif interactive and config.get_property("style-file") is not None:
            remember.add_recent_style(config.get_property("style-file").get_path())
        record = remember.settings_record(config, source, plan, style_from, detail or ("size" if plan.size else "full"),
                                         report, stopped, result.get_name() if go_on != "no" else None)

        Gimp.context_push()
        image.undo_group_start()
        try:
            if go_on == "replace":
                layer = gimp_io.replace_result_layer(image, result, source, pic, plan.layer_name(stopped), plan.box)
            else:
                layer = gimp_io.add_result_layer(image, source, pic, plan.layer_name(stopped), plan.box,
                                                 plan.mask_from, plan.region_mask)
            gimp_io.remember_settings(layer, record)
            gimp_io.remember_source(image, source, persistent=False)   # for Repeat with a channel active
        finally:
            image.undo_group_end()
            Gimp.context_pop()
        Gimp.displays_flush()
    except UserError as e:
        return fail(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, str(e))
    except Exception as e:  # noqa: BLE001 - a message rather than a "plug-in crashed" box
        import traceback
        traceback.print_exc()
        return fail(procedure, Gimp.PDBStatusType.EXECUTION_ERROR,
                    "Neural style transfer failed unexpectedly (%s: %s). Please report this with the "
                    "output of 'python install.py --check'." % (type(e).__name__, e))
    finally:
        Gimp.progress_end()
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


class NeuralStyle(Gimp.PlugIn):
    def do_set_i18n(self, name):
        return False

    def do_query_procedures(self):
        return [PROC, PROC_CONTINUE]

    def do_create_procedure(self, name):
        flags = GObject.ParamFlags.READWRITE
        if name == PROC_CONTINUE:
            return self.continue_procedure(name, flags)
        p = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        p.set_image_types("RGB*, GRAY*")
        p.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        p.set_menu_label("Neural Style Transfer...")
        p.add_menu_path("<Image>/Filters/Artistic")
        p.set_documentation(
            "Paint the layer in the style of another image",
            "Neural style transfer (Gatys et al.) with spatial, colour and scale control. The style "
            "goes where the selection (or a saved channel) is, or on the whole layer; the result is a "
            "new layer above the source, masked to the selection. The work is done by the project's "
            "daemon, which is started when needed.",
            name)
        p.set_attribution("neural-style-gimp contributors", "neural-style-gimp contributors", "2026")

        arguments.declare(p, flags, Gimp, keep)
        return p

    def continue_procedure(self, name, flags):
        """For scripts: more steps on a result layer, with the settings the result remembers."""
        p = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run_continue, None)
        p.set_image_types("RGB*, GRAY*")
        p.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        p.set_documentation(
            "Continue a neural style result: more steps from its own pixels",
            "The drawable is a result layer of plug-in-neural-style (or its mask). The style, the "
            "options and the working size come from the settings the result remembers (its "
            "'neural-style-settings' parasite); the run starts from the result's pixels and adds a new "
            "layer on top, or replaces the result in one undo step.",
            name)
        p.set_attribution("neural-style-gimp contributors", "neural-style-gimp contributors", "2026")
        mode = keep(Gimp.Choice.new())
        mode.add("new-layer", 0, "A new layer", "The continued result is added as a new layer on top")
        mode.add("replace", 1, "Replace the result", "The continued result takes the result layer's place")
        p.add_choice_argument("mode", "_Mode", "new-layer or replace", mode, "new-layer", flags)
        p.add_int_argument("steps", "_Steps (0 = as the result)", "More optimisation steps (0 = the result's "
                           "own step setting)", 0, 5000, 0, flags)
        return p


Gimp.main(NeuralStyle.__gtype__, sys.argv)
