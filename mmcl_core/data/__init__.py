"""Data models: synthetic latent models (``synthetic``) and, later, digits with captions."""
