"""Build the inference function's image with buildah from a local stand-in of the Lambda Python
base image, run it against the local cloud, and check what makes container-Lambda deploys fail."""
