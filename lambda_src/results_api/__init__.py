"""The results API: presigned uploads, predictions and daily counts over HTTP (API Gateway)."""
