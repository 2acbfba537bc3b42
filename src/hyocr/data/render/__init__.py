"""Renderers: one module per scenario, each returning a `Render` with exact ground truth."""
