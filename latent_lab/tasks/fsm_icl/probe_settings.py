"""The probe settings moved to latent_lab/analysis/probe_settings.py (they are every task's);
this name stays for code that imported them from here."""

from latent_lab.analysis.probe_settings import ProbeSettings

__all__ = ["ProbeSettings"]
