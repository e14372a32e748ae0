"""The HTTP edge: OpenAI- and TEI-compatible JSON routes beside gRPC, in the same process.

Each route turns JSON into the protobuf request of one RPC and calls the same servicer
object the gRPC server calls (`services.bundle.Servicers`): one validation, one batcher,
one serving state, no proxy hop. `server.HttpServer` runs uvicorn on the gRPC server's
event loop.
"""
