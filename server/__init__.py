"""vh.server: the gRPC harmonization service and its thin client (grpcio, protobuf and numpy only)."""
