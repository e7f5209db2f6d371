"""Colour science for HDR video: pure, differentiable torch functions (no files, no frames)."""
