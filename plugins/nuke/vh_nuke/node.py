"""Callbacks of the VHMAE Harmonize gizmo: creation, model refresh from the server, and option knobs.

Model options come from the server's GetInfo (asked out of process, see vh_outproc), as nuke-ML-server builds
its knobs: each option of the chosen model becomes a knob named `opt_<name>` on the "model options" tab, so a
new server model needs no plugin change. Standard library only, Python 3.9+."""

import os
from typing import Dict

import nuke
import vh_outproc

from vh_nuke import deps

OPTION_PREFIX = "opt_"
_info_cache: Dict[str, dict] = {}


def create():
    """Menu entry: create the node (the gizmo's onCreate does the rest)."""
    return nuke.createNode("VHMAE_Harmonize")


def on_create(node) -> None:
    """Wire the internals, default the frame range and server, and report missing dependencies on the node."""
    with node:
        plate, results, switch = nuke.toNode("plate"), nuke.toNode("results"), nuke.toNode("use_results")
        out = nuke.toNode("Output1")
    # Wire explicitly: the gizmo's stack order is easy to get wrong and costs nothing to enforce.
    switch.setInput(0, plate)
    switch.setInput(1, results)
    out.setInput(0, switch)
    root = nuke.root()
    if node["first"].value() == node["last"].value():
        node["first"].setValue(int(root["first_frame"].value()))
        node["last"].setValue(int(root["last_frame"].value()))
    env_server = os.environ.get("VH_SERVER")
    if env_server:
        node["server"].setValue(env_server)
    problem = deps.problem()
    set_status(node, problem or "not harmonized yet: press Harmonize")


def set_status(node, text: str) -> None:
    node["status"].setValue(text)


def on_knob_changed(node, knob) -> None:
    if knob is not None and knob.name() == "model":
        info = _info_cache.get(node["server"].value())
        if info is not None:
            build_option_knobs(node, info)


def refresh(node) -> None:
    """'refresh models': ask the server for its models and build the model menu and option knobs."""
    problem = deps.problem()
    if problem:
        set_status(node, problem)
        return
    address = node["server"].value()
    try:
        info = vh_outproc.server_info(address, timeout=10)  # out of process: no gRPC in Nuke's Python
    except vh_outproc.JobError as exc:
        set_status(node, f"server {address}: {exc}")
        return
    _info_cache[address] = info
    names = [m["name"] for m in info["models"]]
    current = node["model"].value()
    node["model"].setValues(names)
    node["model"].setValue(current if current in names else (info["default_model"] or names[0]))
    build_option_knobs(node, info)
    set_status(node, f"connected to {address}: {len(names)} models on {info['device']}")


def build_option_knobs(node, info) -> None:
    """Replace the opt_* knobs with the chosen model's options (values the user set are kept by name)."""
    model = next((m for m in info["models"] if m["name"] == node["model"].value()), None)
    old = {k: node[k].value() for k in node.knobs() if k.startswith(OPTION_PREFIX)}
    for name in list(old):
        node.removeKnob(node[name])
    if model is None:
        return
    for spec in model["options"]:
        knob = _make_knob(spec)
        node.addKnob(knob)
        if knob.name() in old:
            knob.setValue(old[knob.name()])


def _make_knob(spec: dict):
    """A knob for one model option, as the server describes it (name, kind, default, minimum/maximum,
    choices)."""
    name, label = OPTION_PREFIX + spec["name"], spec["name"].replace("_", " ")
    kind = spec["kind"]
    if kind == "float":
        knob = nuke.Double_Knob(name, label)
        if "minimum" in spec and "maximum" in spec:
            knob.setRange(spec["minimum"], spec["maximum"])
    elif kind == "int":
        knob = nuke.Int_Knob(name, label)
    elif kind == "bool":
        knob = nuke.Boolean_Knob(name, label)
    else:
        knob = nuke.Enumeration_Knob(name, label, list(spec["choices"]))
    if spec.get("default") is not None:
        knob.setValue(spec["default"])
    knob.setTooltip(spec.get("help", ""))
    return knob


def option_values(node) -> Dict[str, object]:
    """The model options the user set, by option name."""
    return {k[len(OPTION_PREFIX) :]: node[k].value() for k in node.knobs() if k.startswith(OPTION_PREFIX)}
