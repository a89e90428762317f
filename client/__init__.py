"""vh.client: what a host or a remote user needs to run jobs on a vh-server, without torch.

- `remote`: the gRPC client (`Client`), numpy frames in and out; `wire`: messages <-> numpy arrays, the one
  place they meet (the server uses it too); `v1`: the protocol and its stubs (`codegen` regenerates them).
- `host_job`, `host_job_cli`: the job the Nuke and Resolve plugins run out of process
  (`python -m vh.client.host_job_cli`): rendered EXR frames in, cached EXR results out (through vh.core.io).
- `inhost/vh_outproc.py`: the only part that runs inside a host's own Python. Standard library only.

Python: `inhost` runs on 3.9+ (Nuke 14); the rest on 3.10+, the floor of its grpcio and protobuf wheels. Both
are checked statically (tests/plugins/test_host_python.py, tests/client/test_package.py). Nothing here imports
torch, vh.server or vh.training.
"""
