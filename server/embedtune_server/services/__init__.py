"""Thin gRPC servicers, one per service: protobuf in, domain calls, protobuf out."""
