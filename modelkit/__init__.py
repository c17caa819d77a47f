"""Build-time model tools: make the demo/test models, validate a model folder, convert to LiteRT."""
