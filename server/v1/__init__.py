"""vh.server.v1: the v1 wire protocol (harmonize.proto) and its generated stubs."""
