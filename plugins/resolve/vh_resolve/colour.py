"""Which OCIO colourspace the pixels Resolve renders are in, from the project's colour-science settings.

Resolve does not use OCIO itself, so its settings map onto the names of OCIO's built-in studio config, which
has the DaVinci spaces. VH_OCIO / VH_COLORSPACE override the mapping (e.g. for a studio config on a farm)."""

import os

STUDIO_CONFIG = "ocio://studio-config-v2.2.0_aces-v1.3_ocio-v2.4"

# Timeline colour space names as Resolve's project settings report them -> the studio config's names.
_TIMELINE_SPACES = {
    "Rec.709 Gamma 2.4": "Gamma 2.4 Encoded Rec.709",
    "Rec.709 (Scene)": "Gamma 2.4 Encoded Rec.709",
    "DaVinci WG/Intermediate": "DaVinci Intermediate WideGamut",
    "DaVinci Wide Gamut Intermediate": "DaVinci Intermediate WideGamut",
    "ACEScct": "ACEScct",
    "ACEScc": "ACEScc",
    "Linear": "Linear Rec.709 (sRGB)",
}


def ocio_settings(project):
    """(ocio_config, colorspace) of the frames Resolve renders for `project`; raises ValueError if unknown."""
    config = os.environ.get("VH_OCIO") or STUDIO_CONFIG
    if os.environ.get("VH_COLORSPACE"):
        return config, os.environ["VH_COLORSPACE"]
    science = project.GetSetting("colorScienceMode") or "davinciYRGB"
    if science in ("acescct", "acescc"):
        return config, "ACEScct" if science == "acescct" else "ACEScc"
    if science == "davinciYRGB":  # not colour managed: the timeline is display-referred Rec.709
        return config, "Gamma 2.4 Encoded Rec.709"
    timeline = project.GetSetting("colorSpaceTimeline") or ""
    if timeline in _TIMELINE_SPACES:
        return config, _TIMELINE_SPACES[timeline]
    raise ValueError(
        "timeline colour space %r has no OCIO equivalent here; set VH_COLORSPACE (and VH_OCIO) to name it"
        % timeline
    )
