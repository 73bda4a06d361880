"""Property-based tests (hypothesis) for the core's parsers and state machines."""
