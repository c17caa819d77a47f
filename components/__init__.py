"""Pulumi components of the image-classification pipeline, one per module."""
