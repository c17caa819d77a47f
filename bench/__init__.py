"""Benchmarks: our LiteRT and TensorFlow paths against a handler written the original way."""
