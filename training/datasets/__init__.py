"""Dataset readers, one module per on-disk layout.

- `hyoutube`: the HYouTube video-harmonization layout (real videos, foreground masks, synthetic composites and
  list files), used for training and by `vh eval`.

Sibling modules read DAVIS, image+mask sets and iHarmony4. Import the module you need; this package re-exports
nothing, so that importing one reader never pulls in another's dependencies.
"""
