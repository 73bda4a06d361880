"""Runnable examples of the StepFun integrations; ``python -m examples`` runs them as a tour."""
