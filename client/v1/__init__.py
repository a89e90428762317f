"""The v1 wire protocol (harmonize.proto, protobuf package `vh.server.v1`) and its generated Python stubs."""
