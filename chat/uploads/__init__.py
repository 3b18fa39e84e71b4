"""Uploads: receiving and checking files (files), the upload API and serving them (routes)."""
