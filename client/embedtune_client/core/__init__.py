"""The transport-free core shared by `Client` and `AsyncClient`.

Each client method is an operation *plan* (see `calls.Plan`): a generator that
validates the arguments, yields batches of calls for a transport to run, and turns
the responses into results. The sync and asyncio clients only execute those calls.
"""
