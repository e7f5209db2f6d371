"""Readers and writers: PyAV video, OpenEXR and Radiance stills, metadata parsing."""
