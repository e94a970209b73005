"""Encoding on a Dask cluster: the client side (sending an encode) and the worker side."""
