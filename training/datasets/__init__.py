"""Dataset readers, one module per on-disk layout: DAVIS, image+mask sets and iHarmony4.

The HYouTube layout (real videos, foreground masks, synthetic composites and list files) is read by
`vh.core.io.hyoutube`, since `vh eval` needs it too and the core imports nothing from training.
Import the module you need; this package re-exports nothing, so that importing one reader never pulls in
another's dependencies.
"""
