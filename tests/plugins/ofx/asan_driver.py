"""Drive the plugin through every action and failure path; run under AddressSanitizer by test_leaks.py.

    # from the repository root
    LD_PRELOAD=$(g++ -print-file-name=libasan.so) python -m tests.plugins.ofx.asan_driver BUNDLE ADDRESS

Imports only the host (ctypes + numpy), not torch or OpenImageIO, so that the sanitizer's report is about the
plugin and the libraries it links. Exits 0 when every expected outcome happened.
"""

from __future__ import annotations

import sys

import numpy as np

from tests.plugins.ofx.host import ofx_host


def main(bundle: str, address: str) -> int:
    height, width, frames = 64, 96, 10
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    plates, mattes = {}, {}
    for t in range(1, frames + 1):
        matte = (((xx - 40 - t) ** 2 + (yy - 32) ** 2) < 300).astype(np.float32)
        rgb = np.stack([0.2 + 0.5 * xx / width, 0.3 + 0.2 * yy / height, 0.1 + 0 * xx], -1)
        rgb = rgb * (1 - matte[..., None]) + np.float32([0.05, 0.1, 0.4]) * matte[..., None]
        plates[t] = np.concatenate([rgb, matte[..., None]], -1)
        mattes[t] = matte[..., None]

    host = ofx_host.OfxHost(bundle)
    for depth, padding in (("float", 0), ("half", 24)):
        source = ofx_host.InputClip(plates.get, (1, frames), depth, (3, 5), padding)
        matte = ofx_host.InputClip(mattes.get, (1, frames), depth, (3, 5), padding)
        inst = host.create_instance(
            source, matte, params={"serverAddress": address, "model": "stats", "windowSize": 4}
        )
        inst.set_param("connect", None)
        for t in (1, 2, 7, 3, 10, 9):  # misses, hits, out of order, the short last window
            assert inst.render(t).shape == (height, width, 4)
        inst.purge_caches()
        for bad in (
            {"model": "missing"},
            {"modelOptions": "time_constant=x"},
            {"serverAddress": "127.0.0.1:1"},
        ):
            for name, value in bad.items():
                inst.set_param(name, value)
            try:
                inst.render(5)
            except ofx_host.OfxRenderError as failure:
                assert failure.message, "a failed render must say why"
            else:
                raise AssertionError(f"render with {bad} should have failed")
            inst.set_param("serverAddress", address)
            inst.set_param("model", "stats")
            inst.set_param("modelOptions", "")
        assert inst.render(6).shape == (height, width, 4)
        inst.destroy()  # raises if any image or memory block is still held
    no_matte = host.create_instance(
        ofx_host.InputClip(plates.get, (1, frames)), None, params={"serverAddress": address, "windowSize": 2}
    )
    no_matte.render(2)
    no_matte.destroy()
    host.unload()
    if host.errors:
        print("host errors:", *host.errors, sep="\n  ", file=sys.stderr)
        return 1
    print("asan driver: all actions completed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
