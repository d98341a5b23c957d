"""Interactive Gym: human experiments with Gymnasium-style environments in the browser."""

__version__ = "0.1.0"
